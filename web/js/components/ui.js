// components/ui.js — small pieces used by every page: page headers, chips,
// empty states, tabs, dialogs, record labels and channels.

import { h, icon, newId } from '../dom.js';
import { t } from '../i18n.js';
import { link } from '../app.js';

export const CHANNELS = ['phone', 'email', 'meeting', 'video', 'letter', 'other'];
const CHANNEL_ICONS = {
  phone: 'phone',
  email: 'mail',
  meeting: 'handshake',
  video: 'video',
  letter: 'mailbox',
  other: 'message-square-more',
};

export function channelIcon(channel, { label = true } = {}) {
  const c = CHANNEL_ICONS[channel] ? channel : 'other';
  return h(`span.channel-icon.channel-${c}`, icon(CHANNEL_ICONS[c], label ? { label: t(`channel.${c}`) } : {}));
}

export function channelName(channel) {
  return t(`channel.${CHANNEL_ICONS[channel] ? channel : 'other'}`);
}

export function chip(text, kind = 'neutral', iconName = null, attrs = {}) {
  return h(`span.chip.chip-${kind}`, attrs, iconName ? icon(iconName) : null, h('span', text));
}

export function pageHeader({ title, subtitle, eyebrow, actions, back }) {
  return h('header.page-header',
    h('div.page-heading',
      back ? link(back.href, { class: 'back-link' }, icon('arrow-left'), h('span', back.label)) : null,
      eyebrow ? h('p.eyebrow', eyebrow) : null,
      h('h1', title),
      subtitle ? h('p.page-subtitle', subtitle) : null),
    actions ? h('div.page-actions', actions) : null);
}

export function emptyState(iconName, title, text, action) {
  return h('div.empty-state', icon(iconName, { cls: 'empty-icon' }), h('p.empty-title', title), text ? h('p.muted', text) : null, action || null);
}

export function spinner(label) {
  return h('div.loading-row', { role: 'status' }, h('span.spinner', { 'aria-hidden': 'true' }), h('span', label || t('common.loading')));
}

/** A mailbox as a mail program writes it: a name with a comma or the like in quotes
 *  ("Müller, Jürgen" <j.mueller@…>), so that one recipient does not read as two. */
export function mailbox(a) {
  if (!a.name) return a.address;
  const name = /[",;:<>@()[\]\\]/.test(a.name) ? `"${a.name.replace(/(["\\])/g, '\\$1')}"` : a.name;
  return `${name} <${a.address}>`;
}

/** The name of a lead: "Lead 20417 · Relaunch Website". */
export function leadLabel(lead) {
  return t('record.lead_label', { number: lead.number || lead.key, name: lead.name });
}

/** The name of a project: "P-2026-011 · Filialbeschilderung", the name alone without a number. */
export function projectLabel(project) {
  return project.number && project.number !== project.name
    ? t('record.project_label_number', { number: project.number, name: project.name })
    : t('record.project_label', { name: project.name });
}

export function recordLink(kind, item, opts = {}) {
  if (!item) return null;
  const hrefs = { company: 'companies', lead: 'leads', project: 'projects' };
  const icons = { company: 'building-2', lead: 'target', project: 'folder-kanban' };
  const text = kind === 'lead' ? leadLabel(item) : kind === 'project' ? projectLabel(item) : item.name;
  return link(`/${hrefs[kind]}/${item.id}`, { class: `record-link record-${kind}` }, opts.icon === false ? null : icon(icons[kind]), h('span', text));
}

export function statusChip(status) {
  const kinds = { open: 'info', won: 'success', lost: 'neutral' };
  const known = Object.prototype.hasOwnProperty.call(kinds, status);
  return chip(known ? t(`lead.status.${status}`) : (status || '—'), known ? kinds[status] : 'neutral');
}

/**
 * Tabs with the keyboard (arrows, Home, End) as WAI-ARIA describes them.
 * tabs: [{id, label, count, render: () => Node}]; active: id.
 */
export function tabs(list, active, { label, onChange } = {}) {
  const tablist = h('div.tabs', { role: 'tablist', 'aria-label': label || '' });
  const panels = h('div.tab-panels');
  const buttons = [];
  const panelEls = [];
  const select = (index, focus) => {
    buttons.forEach((b, i) => {
      const on = i === index;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      panelEls[i].hidden = !on;
    });
    if (!panelEls[index].dataset.rendered) {
      panelEls[index].dataset.rendered = '1';
      panelEls[index].append(list[index].render());
    }
    if (focus) buttons[index].focus();
    if (onChange) onChange(list[index].id);
  };
  list.forEach((tab, i) => {
    const tabId = newId('tab');
    const panelId = newId('panel');
    const b = h('button.tab', {
      type: 'button', role: 'tab', id: tabId, 'aria-controls': panelId, 'data-tab': tab.id,
      onclick: () => select(i, false),
      onkeydown: (ev) => {
        const n = list.length;
        let to = null;
        if (ev.key === 'ArrowRight') to = (i + 1) % n;
        else if (ev.key === 'ArrowLeft') to = (i - 1 + n) % n;
        else if (ev.key === 'Home') to = 0;
        else if (ev.key === 'End') to = n - 1;
        if (to !== null) {
          ev.preventDefault();
          select(to, true);
        }
      },
    }, tab.icon ? icon(tab.icon) : null, h('span', tab.label),
    tab.count !== undefined && tab.count !== null ? h('span.tab-count', String(tab.count)) : null);
    buttons.push(b);
    tablist.append(b);
    const panel = h('div.tab-panel', { role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, tabindex: '0', hidden: true });
    panelEls.push(panel);
    panels.append(panel);
  });
  const start = Math.max(0, list.findIndex((x) => x.id === active));
  select(start, false);
  return h('div.tabbed', tablist, panels);
}

/**
 * A modal dialog (native <dialog>: focus stays inside, Escape closes).
 * Returns {dialog, close}. body: a node; footer: buttons.
 */
export function openDialog({ title, body, footer, wide = false, onClose, describedBy }) {
  const opener = document.activeElement;
  const titleId = newId('dialog-title');
  const dialog = h(`dialog.dialog${wide ? '.dialog-wide' : ''}`, { 'aria-labelledby': titleId, 'aria-describedby': describedBy || null },
    h('div.dialog-head',
      h('h2', { id: titleId }, title),
      h('button.icon-button', { type: 'button', 'aria-label': t('common.close'), onclick: () => close() }, icon('x'))),
    h('div.dialog-body', body),
    footer ? h('div.dialog-foot', footer) : null);
  let closed = false;
  const close = (value) => {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    if (onClose) onClose(value);
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  };
  dialog.addEventListener('cancel', (ev) => {
    ev.preventDefault();
    close();
  });
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector('.dialog-body input:not([type=hidden]), .dialog-body select, .dialog-body textarea, .dialog-body button');
  if (first) first.focus();
  return { dialog, close };
}

/** Asks a yes/no question in a dialog; resolves true for yes. */
export function confirmDialog({ title, text, yes, danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const yesButton = h(`button.button${danger ? '.button-danger' : '.button-primary'}`, {
      type: 'button',
      onclick: () => {
        answer = true;
        d.close();
      },
    }, yes);
    const d = openDialog({
      title,
      body: h('p', text),
      footer: [h('button.button', { type: 'button', onclick: () => d.close() }, t('common.cancel')), yesButton],
      onClose: () => resolve(answer),
    });
    yesButton.focus();
  });
}

/** A person's initials for avatars. */
export function initials(name) {
  return (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((p) => p[0]).join('').toUpperCase();
}
