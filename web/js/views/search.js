// views/search.js — "Suche": entries (subject, text, names) and the
// companies, contact persons, leads and projects of that name
// (GET /api/v1/search?q=…, paged with next_cursor).

import { get } from '../api.js';
import { link, navigate } from '../app.js';
import { h, icon, newId } from '../dom.js';
import { t, tn } from '../i18n.js';
import { historyList } from '../components/entries.js';
import { emptyState, initials, leadLabel, pageHeader, projectLabel, statusChip } from '../components/ui.js';

function recordGroup(title, iconName, items, render) {
  if (!items.length) return null;
  return h('section.search-group', { 'aria-label': title },
    h('h2.section-title', icon(iconName), h('span', title), h('span.count-pill', String(items.length))),
    h('ul.result-list', items.map((i) => h('li', render(i)))));
}

export async function renderSearch(query) {
  const q = (query.get('q') || '').trim();
  const inputId = newId('q');
  const input = h('input', { type: 'search', id: inputId, name: 'q', value: q, placeholder: t('search.placeholder'), autocomplete: 'off' });
  const form = h('form.search-form', {
    role: 'search',
    onsubmit: (ev) => {
      ev.preventDefault();
      const v = input.value.trim();
      navigate(v ? `/search?q=${encodeURIComponent(v)}` : '/search');
    },
  },
  h('label.visually-hidden', { for: inputId }, t('search.label')),
  h('div.search-field', icon('search', { cls: 'search-icon' }), input),
  h('button.button.button-primary', { type: 'submit' }, t('search.submit')));

  const page = h('section.page', pageHeader({ title: t('search.title'), subtitle: q ? t('search.results_for', { q }) : t('search.intro') }), h('div.card', form));
  const globalSearch = document.getElementById('global-search');
  if (globalSearch) globalSearch.value = q;
  if (!q) return { title: t('search.title'), node: page };

  const first = await get('search', { q, limit: 20 });
  const groups = [
    recordGroup(t('nav.companies'), 'building-2', first.companies || [], (c) => link(`/companies/${c.id}`, { class: 'result' },
      h('span.row-avatar', { 'aria-hidden': 'true' }, initials(c.name)), h('span.result-title', c.name),
      h('span.result-sub', (c.domains || []).join(', ')))),
    recordGroup(t('search.contacts'), 'contact-round', first.contacts || [], (c) => link(`/companies/${c.company.id}`, { class: 'result' },
      h('span.row-avatar', { 'aria-hidden': 'true' }, initials(c.name)), h('span.result-title', c.name),
      h('span.result-sub', [c.company.name, (c.emails || [])[0], c.phone].filter(Boolean).join(' · ')))),
    recordGroup(t('nav.leads'), 'target', first.leads || [], (l) => link(`/leads/${l.id}`, { class: 'result' },
      icon('target'), h('span.result-title', leadLabel(l)), h('span.result-sub', l.company ? l.company.name : ''), statusChip(l.status))),
    recordGroup(t('nav.projects'), 'folder-kanban', first.projects || [], (p) => link(`/projects/${p.id}`, { class: 'result' },
      icon('folder-kanban'), h('span.result-title', projectLabel(p)), h('span.result-sub', p.company ? p.company.name : ''))),
  ].filter(Boolean);

  let firstPage = first;
  const entries = historyList({
    load: async (cursor) => {
      if (!cursor && firstPage) {
        const p = firstPage;
        firstPage = null;
        return p;
      }
      return get('search', { q, limit: 20, cursor });
    },
    context: null,
    label: t('search.entries'),
    empty: h('p.muted', t('search.no_entries')),
  });
  const total = (first.companies || []).length + (first.contacts || []).length + (first.leads || []).length + (first.projects || []).length;
  page.append(
    !groups.length && !first.items.length
      ? emptyState('search', t('search.nothing', { q }), t('search.nothing_text'))
      : h('div.search-results',
        groups.length ? h('div.search-records', groups) : null,
        h('section.search-group.search-entries', { 'aria-label': t('search.entries') },
          h('h2.section-title', icon('history'), h('span', t('search.entries')),
            h('span.count-pill', first.next_cursor ? `${first.items.length}+` : String(first.items.length))),
          entries.node)),
    h('p.visually-hidden', { role: 'status' }, tn('search.found', first.items.length + total)));
  return { title: `${t('search.title')}: ${q}`, node: page };
}
