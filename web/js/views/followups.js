// views/followups.js — "Wiedervorlagen": the user's follow-ups by date,
// overdue ones first and marked, each to be marked done
// (PATCH /api/v1/entries/{id} {"followup_done": true, "version": N}).

import { get, patch } from '../api.js';
import { announce, errorText, link, refreshCounts, setCount, toast } from '../app.js';
import { h, icon, newId } from '../dom.js';
import { formatDate, parseDate, relativeDay, t, tn, todayYmd } from '../i18n.js';
import { channelIcon, chip, emptyState, pageHeader, recordLink } from '../components/ui.js';

/** Whole days from a date YYYY-MM-DD until today (local time). */
function daysSince(ymd) {
  const d = parseDate(ymd);
  const today = parseDate(todayYmd());
  return d && today ? Math.max(1, Math.round((today - d) / 86400000)) : 1;
}

function row(entry, onChange) {
  const today = todayYmd();
  const overdue = !entry.followup_done && entry.followup < today;
  const isToday = entry.followup === today;
  const titleId = newId('fu');
  const doneButton = h('button.button.button-small', {
    type: 'button',
    'data-action': entry.followup_done ? 'reopen' : 'done',
    'aria-describedby': titleId,
    onclick: async () => {
      doneButton.disabled = true;
      try {
        const updated = await patch(`entries/${entry.id}`, { followup_done: !entry.followup_done, version: entry.version });
        toast(updated.followup_done ? t('followup.marked_done') : t('followup.reopened'));
        announce(updated.followup_done ? t('followup.marked_done') : t('followup.reopened'));
        onChange();
        refreshCounts();
      } catch (err) {
        toast(errorText(err), 'error');
        doneButton.disabled = false;
      }
    },
  }, icon(entry.followup_done ? 'history' : 'check'), h('span', entry.followup_done ? t('followup.reopen') : t('followup.done')));

  const where = [entry.company ? recordLink('company', entry.company) : null,
    entry.lead ? recordLink('lead', entry.lead) : null,
    entry.project ? recordLink('project', entry.project) : null].filter(Boolean);
  return h(`li.followup${overdue ? '.followup-overdue' : ''}${isToday ? '.followup-today' : ''}${entry.followup_done ? '.followup-done' : ''}`,
    h('div.followup-date',
      h('span.followup-day', formatDate(entry.followup)),
      h('span.followup-rel', overdue ? tn('followup.overdue_days', daysSince(entry.followup)) : relativeDay(entry.followup))),
    channelIcon(entry.channel),
    h('div.followup-body',
      h('p.followup-subject', { id: titleId }, link(`/entries/${entry.id}`, {}, entry.subject || t('entry.no_subject'))),
      where.length ? h('p.entry-context', where) : h('p.entry-context', chip(t('entry.own_history'), 'neutral', 'user')),
      entry.contacts && entry.contacts.length ? h('p.muted.small', t('entry.with', { names: entry.contacts.map((c) => c.name).join(', ') })) : null),
    // Overdue and today are said by the group's heading and under the date: no chip repeats it.
    h('div.followup-actions', doneButton));
}

export async function renderFollowups(query) {
  const showDone = query.get('done') === '1';
  const body = h('div.followup-groups');
  const subtitle = h('span');
  const load = async () => {
    const res = await get('me/followups', { include_done: showDone ? 1 : null, limit: 500 });
    const today = todayYmd();
    const due = res.items.filter((e) => !e.followup_done && e.followup <= today).length;
    subtitle.textContent = due ? tn('followup.due_count', due) : t('followup.none_due');
    setCount('followups', due);
    const groups = [
      { key: 'overdue', items: res.items.filter((e) => !e.followup_done && e.followup < today) },
      { key: 'today', items: res.items.filter((e) => !e.followup_done && e.followup === today) },
      { key: 'upcoming', items: res.items.filter((e) => !e.followup_done && e.followup > today) },
      { key: 'done', items: res.items.filter((e) => e.followup_done) },
    ];
    body.replaceChildren();
    if (!res.items.length) {
      body.append(emptyState('calendar-clock', t('followup.empty_title'), t('followup.empty_text')));
      return;
    }
    for (const g of groups) {
      if (!g.items.length) continue;
      const headId = newId('group');
      body.append(h(`section.followup-group.group-${g.key}`, { 'aria-labelledby': headId },
        h('h2.section-title', { id: headId }, t(`followup.group_${g.key}`), h('span.count-pill', String(g.items.length))),
        h('ul.followup-list', g.items.map((e) => row(e, () => load().catch((err) => toast(errorText(err), 'error')))))));
    }
  };
  await load();
  const toggleId = newId('showdone');
  const toggle = h('label.switch', { for: toggleId },
    h('input', {
      type: 'checkbox',
      id: toggleId,
      checked: showDone,
      onchange: (ev) => {
        history.replaceState(null, '', ev.target.checked ? '/followups?done=1' : '/followups');
        renderFollowups(new URLSearchParams(location.search)).then((r) => {
          const page = document.querySelector('.followups-page');
          if (page) page.replaceWith(r.node);
          const input = document.getElementById(r.toggleId);
          if (input) input.focus();
        });
      },
    }),
    h('span', t('followup.show_done')));
  return {
    title: t('followup.title'),
    toggleId,
    node: h('section.page.followups-page',
      pageHeader({
        title: t('followup.title'),
        subtitle,
        actions: toggle,
      }),
      body),
  };
}
