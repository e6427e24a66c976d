// views/inbox.js — "Meine Kontakthistorie": the captured mail to review
// (GET /api/v1/me/inbox) and the user's own saved entries (?state=own).

import { get } from '../api.js';
import { announce, errorText, freshCounts, link, state } from '../app.js';
import { h, icon } from '../dom.js';
import { t, tn } from '../i18n.js';
import { historyList } from '../components/entries.js';
import { openEntryForm } from '../components/entry-form.js';
import { candidateCompanyNames, reviewCard } from '../components/review.js';
import { emptyState, pageHeader, spinner } from '../components/ui.js';

function tabLinks(active) {
  const tab = (key, href, label, iconName) => link(href, {
    class: 'tab',
    'aria-current': key === active ? 'page' : null,
  }, icon(iconName), h('span', label));
  return h('nav.tabs.tabs-links', { 'aria-label': t('inbox.views') },
    tab('pending', '/inbox', t('inbox.tab_pending'), 'inbox'),
    tab('own', '/inbox/own', t('inbox.tab_own'), 'user'));
}

function pendingList() {
  const list = h('div.review-list');
  const status = h('div.history-status', { 'aria-live': 'polite' });
  const more = h('button.button.more-button', { type: 'button', hidden: true }, t('history.more'));
  const counter = h('span.counter');
  let cursor = null;
  // All pending mail (counts.pending of GET /api/v1/me), not only the cards loaded so far.
  let total = null;

  const updateCounter = () => {
    const n = list.querySelectorAll('.review-card:not(.leaving)').length;
    const all = Math.max(n, total === null ? n : total);
    counter.textContent = all ? tn('inbox.count', all) : t('inbox.none_left');
    if (!n && !cursor) {
      status.replaceChildren(emptyState('circle-check', t('inbox.empty_title'), t('inbox.empty_text')));
    }
  };

  const onDone = (saved, action) => {
    if (total !== null) total = Math.max(0, total - 1);
    updateCounter();
    announce(action === 'discard' ? t('review.discarded') : t('review.saved_short'));
    const next = list.querySelector('.review-card h2');
    if (next) {
      next.setAttribute('tabindex', '-1');
      next.focus();
    }
  };

  const load = async () => {
    more.disabled = true;
    status.replaceChildren(spinner());
    try {
      // The first page fetches the counters too: the total and the badges agree.
      const [page, counts] = await Promise.all([
        get('me/inbox', { limit: 20, cursor }),
        cursor ? null : freshCounts(),
      ]);
      if (counts && typeof counts.inbox === 'number') total = counts.inbox;
      const names = await candidateCompanyNames(page.items);
      status.replaceChildren();
      for (const e of page.items) {
        list.append(reviewCard(e, { onDone, companyNames: names }));
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      more.disabled = false;
      updateCounter();
    } catch (err) {
      status.replaceChildren(h('p.form-error', { role: 'alert' }, errorText(err)));
      more.disabled = false;
    }
  };
  more.addEventListener('click', load);
  return { node: h('div', list, status, h('div.more-row', more)), counter, load };
}

export async function renderInbox(which) {
  const title = t('inbox.title');
  if (which === 'own') {
    let history;
    const add = h('button.button.button-primary', {
      type: 'button',
      onclick: () => openEntryForm({ kind: 'own', item: null }, () => history.reload()),
    }, icon('plus'), h('span', t('inbox.add_own')));
    history = historyList({
      load: (cursor) => get('me/inbox', { state: 'own', limit: 20, cursor }),
      context: 'own',
      label: t('inbox.tab_own'),
      empty: emptyState('user', t('inbox.own_empty_title'), t('inbox.own_empty_text')),
    });
    return {
      title: `${t('inbox.tab_own')} – ${title}`,
      node: h('section.page',
        pageHeader({ title, subtitle: t('inbox.own_intro'), actions: add }),
        tabLinks('own'),
        h('div.tab-panel', history.node)),
    };
  }
  const pending = pendingList();
  await pending.load();
  return {
    title,
    node: h('section.page',
      pageHeader({ title, subtitle: pending.counter }),
      tabLinks('pending'),
      h('p.intro', icon('info'), h('span', t('inbox.intro', { name: state.me.user.name }))),
      pending.node),
  };
}
