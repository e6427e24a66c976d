// views/records.js — companies, leads and projects: the lists (with search
// and paging by next_offset) and the pages of one record with its
// "Kontakthistorie" and "Neuen Kontakt vermerken".

import { get } from '../api.js';
import { errorText, link } from '../app.js';
import { h, icon, newId } from '../dom.js';
import { formatNumber, t, tn } from '../i18n.js';
import { historyList } from '../components/entries.js';
import { companyRecords, openEntryForm } from '../components/entry-form.js';
import { emptyState, initials, leadLabel, pageHeader, projectLabel, recordLink, spinner, statusChip, tabs } from '../components/ui.js';

const KINDS = {
  companies: { kind: 'company', icon: 'building-2' },
  leads: { kind: 'lead', icon: 'target' },
  projects: { kind: 'project', icon: 'folder-kanban' },
};

function columns(kind) {
  if (kind === 'companies') {
    return [
      { label: t('list.name'), cell: (c) => link(`/companies/${c.id}`, { class: 'row-link' }, h('span.row-avatar', { 'aria-hidden': 'true' }, initials(c.name)), h('span', c.name)) },
      { label: t('list.domains'), cell: (c) => (c.domains || []).length ? h('span.domain-list', (c.domains || []).map((d) => h('span.tag', d))) : h('span.muted', '—') },
    ];
  }
  if (kind === 'leads') {
    return [
      { label: t('list.number'), cls: 'col-number', cell: (l) => h('span.mono', l.number) },
      { label: t('list.name'), cell: (l) => link(`/leads/${l.id}`, { class: 'row-link' }, h('span', l.name)) },
      { label: t('list.company'), cell: (l) => (l.company ? link(`/companies/${l.company.id}`, { class: 'link-quiet' }, l.company.name) : '—') },
      { label: t('list.status'), cls: 'col-status', cell: (l) => statusChip(l.status) },
    ];
  }
  return [
    { label: t('list.number'), cls: 'col-number', cell: (p) => h('span.mono', p.number || '—') },
    { label: t('list.name'), cell: (p) => link(`/projects/${p.id}`, { class: 'row-link' }, h('span', p.name)) },
    { label: t('list.company'), cell: (p) => (p.company ? link(`/companies/${p.company.id}`, { class: 'link-quiet' }, p.company.name) : '—') },
    { label: t('list.offers'), cell: (p) => (p.offers || []).length ? h('span.domain-list', p.offers.map((o) => h('span.tag.mono', o))) : h('span.muted', '—') },
  ];
}

function table(kind, caption) {
  const cols = columns(kind);
  const tbody = h('tbody');
  const node = h('div.table-wrap', h('table.data-table',
    h('caption.visually-hidden', caption),
    h('thead', h('tr', cols.map((c) => h('th', { scope: 'col', class: c.cls || null }, c.label)))),
    tbody));
  const add = (items) => {
    for (const item of items) {
      tbody.append(h('tr', cols.map((c) => h('td', { 'data-label': c.label, class: c.cls || null }, c.cell(item)))));
    }
  };
  return { node, add, clear: () => tbody.replaceChildren(), rows: () => tbody.children.length };
}

export async function renderList(kind, query) {
  const { icon: iconName } = KINDS[kind];
  const title = t(`nav.${kind}`);
  const qId = newId('filter');
  const input = h('input', { type: 'search', id: qId, name: 'q', value: query.get('q') || '', placeholder: t(`list.filter_${kind}`), autocomplete: 'off' });
  const tbl = table(kind, title);
  const status = h('div.history-status', { 'aria-live': 'polite' });
  const more = h('button.button.more-button', { type: 'button', hidden: true }, t('history.more'));
  const count = h('p.list-count', { 'aria-live': 'polite' });
  let offset = 0;
  let seq = 0;

  const load = async (reset) => {
    const mine = ++seq;
    if (reset) offset = 0;
    more.disabled = true;
    status.replaceChildren(spinner());
    try {
      const page = await get(kind, { q: input.value.trim(), limit: 50, offset });
      if (mine !== seq) return;
      if (reset) tbl.clear();
      tbl.add(page.items);
      offset = page.next_offset === null || page.next_offset === undefined ? null : page.next_offset;
      more.hidden = offset === null;
      more.disabled = false;
      status.replaceChildren();
      const n = tbl.rows();
      tbl.node.hidden = n === 0;
      // "12 Unternehmen" (the list's total with its filter), "· 50 angezeigt" while there are more.
      const total = typeof page.total === 'number' ? Math.max(page.total, n) : n;
      count.textContent = n ? tn(`list.count_${kind}`, total) + (n < total ? ` · ${t('list.shown', { n: formatNumber(n) })}` : '') : '';
      if (!n) status.replaceChildren(emptyState(iconName, t('list.empty'), input.value ? t(`list.empty_filter_${kind}`, { q: input.value }) : null));
    } catch (err) {
      if (mine === seq) status.replaceChildren(h('p.form-error', { role: 'alert' }, errorText(err)));
    }
  };
  let timer = null;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const q = input.value.trim();
      history.replaceState(null, '', q ? `/${kind}?q=${encodeURIComponent(q)}` : `/${kind}`);
      load(true);
    }, 250);
  });
  more.addEventListener('click', () => load(false));
  await load(true);
  return {
    title,
    node: h('section.page',
      pageHeader({ title, subtitle: t(`list.intro_${kind}`) }),
      h('div.card.list-card',
        h('form.list-filter', { role: 'search', onsubmit: (ev) => { ev.preventDefault(); load(true); } },
          h('label.visually-hidden', { for: qId }, t('list.filter_label')),
          icon('search', { cls: 'search-icon' }), input),
        count,
        tbl.node,
        status,
        h('div.more-row', more))),
  };
}

/* ---- one record --------------------------------------------------------------------------- */

function contactCards(contacts) {
  if (!contacts.length) return emptyState('contact-round', t('record.no_contacts'), null);
  return h('ul.contact-grid', contacts.map((c) => h('li.contact-card',
    h('span.avatar.avatar-lg', { 'aria-hidden': 'true' }, initials(c.name)),
    h('div.contact-body',
      h('p.contact-name', c.name),
      c.phone ? h('p', h('a.link-quiet', { href: `tel:${c.phone.replace(/[^\d+]/g, '')}` }, icon('phone'), h('span', c.phone))) : null,
      (c.emails || []).map((e) => h('p', h('a.link-quiet', { href: `mailto:${e}` }, icon('at-sign'), h('span', e))))))));
}

function recordTable(kind, items) {
  const tbl = table(kind, t(`nav.${kind}`));
  tbl.add(items);
  return tbl.node;
}

function facts(list) {
  return h('dl.facts', list.filter(Boolean).map(([label, value]) => h('div.fact', h('dt', label), h('dd', value))));
}

export async function renderRecord(kind, id) {
  const path = { company: 'companies', lead: 'leads', project: 'projects' }[kind];
  const item = await get(`${path}/${id}`);
  const companyId = kind === 'company' ? item.id : item.company ? item.company.id : null;
  const records = await companyRecords(companyId);
  let history;
  const addButton = h('button.button.button-primary', {
    type: 'button',
    id: 'new-entry',
    onclick: async () => {
      try {
        await openEntryForm({ kind, item }, () => history && history.reload());
      } catch (err) {
        console.error(err);
      }
    },
  }, icon('plus'), h('span', t('record.add_entry')));

  const historyTab = {
    id: 'history',
    icon: 'history',
    label: t('history.title'),
    render: () => {
      history = historyList({
        load: (cursor) => get(`${path}/${id}/history`, { limit: 20, cursor }),
        context: kind,
        label: t('history.of', { name: kind === 'lead' ? leadLabel(item) : item.name }),
        empty: emptyState('history', t('history.empty'), t('history.empty_text')),
      });
      return history.node;
    },
  };
  const contactsTab = {
    id: 'contacts',
    icon: 'contact-round',
    label: t('record.contacts'),
    count: records.contacts.length,
    render: () => contactCards(records.contacts),
  };

  let header;
  let tabList;
  if (kind === 'company') {
    header = pageHeader({
      eyebrow: t('record.company'),
      title: item.name,
      back: { href: '/companies', label: t('nav.companies') },
      actions: addButton,
    });
    tabList = [historyTab, contactsTab, {
      id: 'records',
      icon: 'target',
      label: t('record.leads_projects'),
      count: records.leads.length + records.projects.length,
      render: () => h('div.stack',
        h('h2.section-title', t('nav.leads')),
        records.leads.length ? recordTable('leads', records.leads) : h('p.muted', t('record.no_leads')),
        h('h2.section-title', t('nav.projects')),
        records.projects.length ? recordTable('projects', records.projects) : h('p.muted', t('record.no_projects'))),
    }];
    header.append(facts([
      [t('list.domains'), (item.domains || []).length ? h('span.domain-list', item.domains.map((d) => h('span.tag', d))) : '—'],
      [t('nav.leads'), String(records.leads.length)],
      [t('nav.projects'), String(records.projects.length)],
      [t('record.contacts'), String(records.contacts.length)],
    ]));
  } else if (kind === 'lead') {
    header = pageHeader({
      eyebrow: t('record.lead_number', { number: item.number }),
      title: item.name,
      back: { href: '/leads', label: t('nav.leads') },
      actions: addButton,
    });
    tabList = [historyTab, contactsTab];
    header.append(facts([
      [t('list.company'), recordLink('company', item.company)],
      [t('list.status'), statusChip(item.status)],
    ]));
  } else {
    header = pageHeader({
      eyebrow: item.number ? t('record.project_number', { number: item.number }) : t('record.project'),
      title: item.name,
      back: { href: '/projects', label: t('nav.projects') },
      actions: addButton,
    });
    tabList = [historyTab, contactsTab];
    header.append(facts([
      [t('list.company'), recordLink('company', item.company)],
      [t('list.offers'), (item.offers || []).length ? h('span.domain-list', item.offers.map((o) => h('span.tag.mono', o))) : '—'],
    ]));
  }
  const title = kind === 'lead' ? leadLabel(item) : kind === 'project' ? projectLabel(item) : item.name;
  return {
    title,
    node: h('section.page.record-page', header, tabs(tabList, 'history', { label: title })),
  };
}

