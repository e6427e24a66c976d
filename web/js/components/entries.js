// components/entries.js — one entry of a contact history, and the history
// itself: newest first, "weitere laden" with the API's next_cursor.
//
// Mail text, subjects, names and file names are text nodes: a captured
// mail is shown as text, never as HTML.

import { get } from '../api.js';
import { errorText, link } from '../app.js';
import { h, icon, newId } from '../dom.js';
import { formatDate, formatDateTime, formatList, formatSize, relativeDay, t, todayYmd } from '../i18n.js';
import { channelIcon, channelName, chip, emptyState, mailbox, recordLink, spinner } from './ui.js';

/** Chip for a follow-up date: overdue red, today amber, done green. */
export function followupChip(entry) {
  if (!entry.followup) return null;
  const today = todayYmd();
  const date = formatDate(entry.followup);
  if (entry.followup_done) return chip(t('followup.chip_done', { date }), 'success', 'check');
  if (entry.followup < today) return chip(t('followup.chip_overdue', { date }), 'danger', 'calendar-clock');
  if (entry.followup === today) return chip(t('followup.chip_today'), 'warning', 'calendar-clock');
  return chip(t('followup.chip', { date, rel: relativeDay(entry.followup) }), 'neutral', 'calendar-clock');
}

export function attachmentList(entry) {
  if (!entry.attachments || !entry.attachments.length) return null;
  return h('ul.attachments', { 'aria-label': t('entry.attachments') },
    entry.attachments.map((a) => h('li',
      h('a.attachment', { href: a.url, download: a.name, title: t('entry.download', { name: a.name }) },
        icon('paperclip'),
        h('span.attachment-name', a.name),
        h('span.attachment-size', formatSize(a.size)),
        icon('download', { cls: 'attachment-dl' })))));
}

function addressLine(label, list) {
  if (!list || !list.length) return null;
  return h('div.address-row', h('dt', label),
    h('dd', list.map((a, i) => h('span.address',
      i ? ', ' : null,
      mailbox(a)))));
}

/**
 * The full text of an entry (GET /api/v1/entries/{id}), as text; with its
 * From/To/Cc unless the page shows them already (addresses: false).
 */
export function fullText(full, { addresses = true } = {}) {
  const parts = [];
  const ad = full.addresses;
  if (ad && addresses) {
    parts.push(h('dl.addresses',
      addressLine(t('entry.from'), ad.from),
      addressLine(t('entry.to'), ad.to),
      addressLine(t('entry.cc'), ad.cc)));
  }
  if (full.text_from_html) parts.push(h('p.hint', icon('info'), h('span', t('entry.from_html'))));
  parts.push(h('div.mail-text', full.text && full.text.trim() ? full.text : t('entry.no_text')));
  if (full.original_text) {
    parts.push(h('h4.sub-heading', t('entry.original_text')));
    parts.push(h('div.mail-text.mail-original', full.original_text));
  }
  if (full.original_url) {
    parts.push(h('p.entry-original', h('a.link-quiet', { href: full.original_url, download: `entry-${full.id}.eml` }, icon('mail'), h('span', t('entry.original')))));
  }
  return parts;
}

/**
 * A button that shows and hides the entry's full text, loaded once (not at
 * all when the entry is the full one already). hide: an element (the
 * preview) hidden while the full text is shown, so that nothing is said twice.
 */
export function fullTextToggle(entry, { hide = null, addresses = true } = {}) {
  const panelId = newId('full');
  const panel = h('div.entry-full', { id: panelId, hidden: true });
  let loaded = false;
  const label = h('span', t('entry.show_full'));
  const button = h('button.link-button.expand', {
    type: 'button',
    'aria-expanded': 'false',
    'aria-controls': panelId,
    onclick: async () => {
      const open = button.getAttribute('aria-expanded') === 'true';
      if (open) {
        button.setAttribute('aria-expanded', 'false');
        label.textContent = t('entry.show_full');
        panel.hidden = true;
        if (hide) hide.hidden = false;
        return;
      }
      button.setAttribute('aria-expanded', 'true');
      label.textContent = t('entry.hide_full');
      panel.hidden = false;
      if (hide) hide.hidden = true;
      if (!loaded) {
        panel.replaceChildren(spinner());
        try {
          // GET /api/v1/entries/{id} has the text; lists have a preview only.
          const full = typeof entry.text === 'string' ? entry : await get(`entries/${entry.id}`);
          panel.replaceChildren(...fullText(full, { addresses }));
          loaded = true;
        } catch (err) {
          panel.replaceChildren(h('p.form-error', { role: 'alert' }, errorText(err)));
        }
      }
    },
  }, icon('chevron-down', { cls: 'expand-icon' }), label);
  return { button, panel };
}

/**
 * One entry of a history. context: the kind of the page it is shown on
 * ('company', 'lead', 'project', 'own', null): what the page already says is
 * not repeated.
 */
export function entryCard(entry, { context = null, headingLevel = 3, expanded = false, actions = null } = {}) {
  const titleId = newId('entry');
  const Hn = `h${headingLevel}`;
  const contacts = (entry.contacts || []).map((c) => c.name);
  const meta = [
    h('span.entry-channel', channelName(entry.channel)),
    entry.author ? h('span', t('entry.by', { name: entry.author.name })) : null,
    contacts.length ? h('span', t('entry.with', { names: formatList(contacts) })) : null,
  ].filter(Boolean);
  const metaLine = h('p.entry-meta');
  meta.forEach((m, i) => {
    if (i) metaLine.append(h('span.sep', { 'aria-hidden': 'true' }, '·'));
    metaLine.append(m);
  });

  const ctx = [];
  if (entry.company && context !== 'company' && context !== 'lead' && context !== 'project') ctx.push(recordLink('company', entry.company));
  if (entry.lead && context !== 'lead') ctx.push(recordLink('lead', entry.lead));
  if (entry.project && context !== 'project') ctx.push(recordLink('project', entry.project));
  if (!entry.company && !entry.lead && !entry.project && entry.state === 'saved' && context !== 'own') {
    ctx.push(chip(t('entry.own_history'), 'neutral', 'user'));
  }

  const chips = [followupChip(entry)];
  if (entry.state === 'pending') chips.push(chip(t('entry.state.pending'), 'warning', 'inbox'));
  if (entry.forwarded) chips.push(chip(t('entry.forwarded'), 'neutral', 'forward'));
  if (entry.notify && entry.notify.length) {
    chips.push(chip(t('entry.notified', { names: formatList(entry.notify.map((u) => u.name)) }), 'neutral', 'bell'));
  }

  const preview = !expanded && entry.preview ? h('p.entry-preview', entry.preview) : null;
  const toggle = expanded ? null : fullTextToggle(entry, { hide: preview });
  const subject = entry.subject && entry.subject.trim() ? entry.subject : t('entry.no_subject');
  return h('article.entry', { 'aria-labelledby': titleId, 'data-entry': entry.id },
    h('div.entry-rail', channelIcon(entry.channel)),
    h('div.entry-card',
      h('div.entry-head',
        h(Hn + '.entry-subject', { id: titleId }, link(`/entries/${entry.id}`, { class: 'entry-subject-link' }, subject)),
        h('time.entry-time', { datetime: entry.contact_time || '' }, formatDateTime(entry.contact_time))),
      metaLine,
      ctx.length ? h('p.entry-context', ctx) : null,
      preview,
      chips.some(Boolean) ? h('div.chip-row', chips) : null,
      attachmentList(entry),
      toggle ? h('div.entry-foot', toggle.button, actions) : (actions ? h('div.entry-foot', actions) : null),
      toggle ? toggle.panel : null));
}

/**
 * A history: load(cursor) → {items, next_cursor}. Renders newest first with
 * "weitere laden"; `empty` is the empty state.
 */
export function historyList({ load, context, empty, label }) {
  const list = h('div.timeline', { role: 'feed', 'aria-label': label || t('history.title'), 'aria-busy': 'true' });
  const more = h('button.button.more-button', { type: 'button', hidden: true }, t('history.more'));
  const status = h('div.history-status', { 'aria-live': 'polite' });
  const wrap = h('div.history', list, status, h('div.more-row', more));
  let cursor = null;
  let count = 0;

  const page = async () => {
    more.disabled = true;
    status.replaceChildren(spinner());
    list.setAttribute('aria-busy', 'true');
    try {
      const res = await load(cursor);
      status.replaceChildren();
      const firstNew = count;
      for (const e of res.items) {
        const card = entryCard(e, { context });
        card.setAttribute('aria-posinset', String(count + 1));
        card.setAttribute('aria-setsize', '-1');
        list.append(card);
        count += 1;
      }
      cursor = res.next_cursor;
      more.hidden = !cursor;
      more.disabled = false;
      if (count === 0) status.replaceChildren(empty || emptyState('history', t('history.empty'), null));
      else if (firstNew > 0) {
        status.replaceChildren(h('span.visually-hidden', t('history.loaded', { n: res.items.length })));
        const first = list.children[firstNew];
        const a = first && first.querySelector('.entry-subject a');
        if (a) a.focus();
      }
    } catch (err) {
      status.replaceChildren(h('p.form-error', { role: 'alert' }, errorText(err)));
      more.disabled = false;
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
  };
  more.addEventListener('click', page);
  page();
  return { node: wrap, reload: () => { list.replaceChildren(); cursor = null; count = 0; return page(); } };
}
