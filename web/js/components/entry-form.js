// components/entry-form.js — "Neuen Kontakt vermerken": a call, meeting,
// letter … recorded by hand in a company, lead or project, or in the
// user's own history. Sent as multipart/form-data: the field "entry" with
// the JSON and the files. The same form corrects a saved entry ("Kontakt
// bearbeiten"): PATCH with the entry's version, new files added after it;
// captured mail keeps its subject and text, which are the mail's own.

import { api, get, patch } from '../api.js';
import { errorText, refreshCounts, state, toast, users } from '../app.js';
import { h, icon, newId } from '../dom.js';
import { formatSize, localDateTimeValue, t, todayYmd } from '../i18n.js';
import { CHANNELS, channelIcon, channelName, leadLabel, openDialog, projectLabel } from './ui.js';

function field(labelText, control, { hint, id } = {}) {
  const hintId = hint ? newId('hint') : null;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h('div.field',
    h('label', { for: id || control.id }, labelText),
    control,
    hint ? h('p.field-hint', { id: hintId }, hint) : null);
}

function checkboxGroup(legend, items, { name, checked = [], emptyText, describe } = {}) {
  const set = new Set(checked.map(String));
  const box = h('fieldset.check-group', h('legend', legend));
  if (!items.length) {
    box.append(h('p.muted.small', emptyText || t('common.none')));
    return box;
  }
  const grid = h('div.check-grid');
  for (const item of items) {
    const id = newId(name);
    grid.append(h('label.check', { for: id },
      h('input', { type: 'checkbox', id, name, value: String(item.id), checked: set.has(String(item.id)) }),
      h('span.check-text', h('span', item.name), describe ? h('span.check-sub', describe(item)) : null)));
  }
  box.append(grid);
  return box;
}

export function checkedIds(container, name) {
  return [...container.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => Number(i.value));
}

/** Loads the contact persons, leads and projects of a company. */
export async function companyRecords(companyId) {
  if (!companyId) return { contacts: [], leads: [], projects: [] };
  const [contacts, leads, projects] = await Promise.all([
    get('contacts', { company: companyId, limit: 200 }),
    get('leads', { company: companyId, limit: 200 }),
    get('projects', { company: companyId, limit: 200 }),
  ]);
  return { contacts: contacts.items, leads: leads.items, projects: projects.items };
}

export function followupField(initial = '') {
  const id = newId('followup');
  const input = h('input', { type: 'date', id, name: 'followup', value: initial || '', min: '2000-01-01' });
  const quick = (days, label) => h('button.chip-button', {
    type: 'button',
    onclick: () => {
      input.value = todayYmd(days);
      input.dispatchEvent(new Event('change'));
    },
  }, label);
  const node = h('div.field',
    h('label', { for: id }, t('form.followup')),
    h('div.inline-controls', input,
      h('div.quick-dates', { role: 'group', 'aria-label': t('form.followup_quick') },
        quick(1, t('form.tomorrow')), quick(7, t('form.in_a_week')), quick(14, t('form.in_two_weeks')))),
    h('p.field-hint', t('form.followup_hint')));
  return { node, input };
}

/** Where a saved entry is: the target of the form that corrects it. */
export function targetOf(entry) {
  if (entry.lead) return { kind: 'lead', item: { ...entry.lead, company: entry.company } };
  if (entry.project) return { kind: 'project', item: { ...entry.project, company: entry.company } };
  if (entry.company) return { kind: 'company', item: entry.company };
  return { kind: 'own', item: null };
}

/**
 * Opens the form. target: {kind: 'company'|'lead'|'project'|'own', item}
 * where item is the company, lead or project ({id, name, company}).
 * onSaved(entry) after the entry is stored. existing: a saved entry (read
 * whole, GET /entries/{id}) to correct instead of a new one.
 */
export async function openEntryForm(target, onSaved, existing = null) {
  const me = state.me.user;
  const companyId = target.kind === 'company' ? target.item.id : target.item && target.item.company ? target.item.company.id : null;
  const [colleagues, records] = await Promise.all([
    users(),
    companyRecords(companyId),
  ]);
  const formId = newId('entry-form');
  const errorBox = h('div.form-error', { role: 'alert', hidden: true });

  // Kontaktweg: a group of radio buttons with icons.
  const channelBox = h('fieldset.channel-picker', h('legend', t('form.channel')));
  const channelGrid = h('div.channel-grid');
  for (const c of CHANNELS) {
    const id = newId('channel');
    channelGrid.append(h('label.channel-option', { for: id },
      h('input', { type: 'radio', name: 'channel', id, value: c, checked: c === (existing ? existing.channel : 'phone') }),
      h('span.channel-tile', channelIcon(c, { label: false }), h('span', channelName(c)))));
  }
  channelBox.append(channelGrid);

  const fromMail = Boolean(existing && existing.origin === 'mail');
  const timeInput = h('input', { type: 'datetime-local', id: newId('time'), name: 'contact_time', required: true,
    value: localDateTimeValue(existing ? new Date(existing.contact_time) : new Date()) });
  const subjectInput = h('input', { type: 'text', id: newId('subject'), name: 'subject', required: true, maxlength: '998', autocomplete: 'off',
    value: existing ? existing.subject || '' : '', readonly: fromMail });
  const textInput = h('textarea', { id: newId('text'), name: 'text', rows: '6', readonly: fromMail });
  if (existing) textInput.value = existing.text || '';
  const followup = followupField(existing ? existing.followup || '' : '');
  const fileInput = h('input', { type: 'file', id: newId('files'), name: 'files', multiple: true, class: 'file-input' });
  const fileList = h('ul.file-list', { 'aria-live': 'polite' });
  fileInput.addEventListener('change', () => {
    fileList.replaceChildren(...[...fileInput.files].map((f) => h('li', icon('paperclip'), h('span', f.name), h('span.muted', formatSize(f.size)))));
  });

  // A saved entry's attachments: kept unless ticked for removal.
  const keptFiles = existing && (existing.attachments || []).length
    ? checkboxGroup(t('form.remove_files'), existing.attachments.map((a) => ({ id: a.id, name: a.name, size: a.size })), {
      name: 'remove', describe: (a) => formatSize(a.size),
    })
    : null;

  let recordSelect = null;
  if (target.kind === 'company' || (existing && target.kind !== 'own')) {
    recordSelect = h('select', { id: newId('record'), name: 'record' },
      h('option', { value: '' }, t('form.record_none')),
      records.leads.length ? h('optgroup', { label: t('nav.leads') }, records.leads.map((l) => h('option', { value: `lead:${l.id}` }, leadLabel(l)))) : null,
      records.projects.length ? h('optgroup', { label: t('nav.projects') }, records.projects.map((p) => h('option', { value: `project:${p.id}` }, projectLabel(p)))) : null);
    if (existing) recordSelect.value = existing.lead ? `lead:${existing.lead.id}` : existing.project ? `project:${existing.project.id}` : '';
  }

  const contactsBox = target.kind === 'own' ? null : checkboxGroup(t('form.contacts'), records.contacts, {
    name: 'contacts',
    emptyText: t('form.no_contacts'),
    describe: (c) => c.phone || (c.emails || [])[0] || '',
    checked: existing ? (existing.contacts || []).map((c) => c.id) : [],
  });
  // The own history is the author's alone: nobody to tell.
  const notifyBox = target.kind === 'own' ? null : checkboxGroup(t('form.notify'), colleagues.filter((u) => u.id !== me.id), {
    name: 'notify',
    emptyText: t('form.no_colleagues'),
    checked: existing ? (existing.notify || []).map((u) => u.id) : [],
  });

  const where = existing && target.kind !== 'own' && target.item.company && target.kind !== 'company'
    ? t('form.where_company', { name: target.item.company.name })
    : target.kind === 'own'
    ? t('form.where_own')
    : target.kind === 'company' ? t('form.where_company', { name: target.item.name })
      : target.kind === 'lead' ? t('form.where', { name: leadLabel(target.item) })
        : t('form.where', { name: projectLabel(target.item) });

  const saveButton = h('button.button.button-primary', { type: 'submit', form: formId }, icon('check'), h('span', t(existing ? 'form.save_changes' : 'form.save')));
  const form = h('form.entry-form', { id: formId, novalidate: true },
    h('p.form-where', icon(target.kind === 'own' ? 'user' : 'building-2'), h('span', where)),
    errorBox,
    channelBox,
    h('div.form-grid',
      field(t('form.time'), timeInput),
      followup.node),
    recordSelect ? field(t('form.record'), recordSelect) : null,
    contactsBox,
    field(t('form.subject'), subjectInput, fromMail ? { hint: t('form.mail_text_kept') } : {}),
    field(t('form.text'), textInput),
    notifyBox,
    keptFiles,
    h('div.field',
      h('label', { for: fileInput.id }, t('form.files')),
      fileInput,
      h('p.field-hint', t('form.files_hint')),
      fileList));

  const d = openDialog({
    title: existing ? t('form.title_edit') : target.kind === 'own' ? t('form.title_own') : t('form.title'),
    body: form,
    wide: true,
    footer: [h('button.button', { type: 'button', onclick: () => d.close() }, t('common.cancel')), saveButton],
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errorBox.hidden = true;
    subjectInput.removeAttribute('aria-invalid');
    timeInput.removeAttribute('aria-invalid');
    const subject = subjectInput.value.trim();
    const when = timeInput.value ? new Date(timeInput.value) : null;
    const problems = [];
    if (!when || Number.isNaN(when.getTime())) {
      problems.push(t('form.need_time'));
      timeInput.setAttribute('aria-invalid', 'true');
    }
    if (!subject) {
      problems.push(t('form.need_subject'));
      subjectInput.setAttribute('aria-invalid', 'true');
    }
    if (problems.length) {
      errorBox.replaceChildren(icon('circle-alert'), h('span', problems.join(' ')));
      errorBox.hidden = false;
      (subject ? timeInput : subjectInput).focus();
      return;
    }
    const entry = {
      channel: form.querySelector('input[name="channel"]:checked').value,
      contact_time: when.toISOString(),
      notify: checkedIds(form, 'notify'),
    };
    if (!fromMail) {
      entry.subject = subject;
      entry.text = textInput.value;
    }
    if (contactsBox) entry.contacts = checkedIds(form, 'contacts');
    if (followup.input.value) entry.followup = followup.input.value;
    if (existing) {
      if (!followup.input.value && existing.followup) entry.followup = null;
      if (recordSelect) {
        const v = recordSelect.value;
        entry.lead = v.startsWith('lead:') ? Number(v.slice(5)) : null;
        entry.project = v.startsWith('project:') ? Number(v.slice(8)) : null;
      }
      const remove = checkedIds(form, 'remove');
      if (remove.length) entry.remove_attachments = remove;
      entry.version = existing.version;
      saveButton.disabled = true;
      try {
        let saved = await patch(`entries/${existing.id}`, entry);
        if (fileInput.files.length) {
          const data = new FormData();
          data.append('entry', JSON.stringify({ version: saved.version }));
          for (const f of fileInput.files) data.append('file', f, f.name);
          saved = await api('POST', `entries/${existing.id}/attachments`, { form: data });
        }
        d.close();
        toast(t('form.changed'));
        refreshCounts();
        if (onSaved) onSaved(saved);
      } catch (err) {
        errorBox.replaceChildren(icon('circle-alert'), h('span', errorText(err)));
        errorBox.hidden = false;
      } finally {
        saveButton.disabled = false;
      }
      return;
    }
    if (target.kind === 'company') {
      entry.company = target.item.id;
      const v = recordSelect.value;
      if (v.startsWith('lead:')) entry.lead = Number(v.slice(5));
      if (v.startsWith('project:')) entry.project = Number(v.slice(8));
    } else if (target.kind === 'lead') {
      entry.lead = target.item.id;
    } else if (target.kind === 'project') {
      entry.project = target.item.id;
    }
    const data = new FormData();
    data.append('entry', JSON.stringify(entry));
    for (const f of fileInput.files) data.append('file', f, f.name);
    saveButton.disabled = true;
    try {
      const saved = await api('POST', 'entries', { form: data });
      d.close();
      toast(t('form.saved'));
      if (saved.followup) refreshCounts();
      if (onSaved) onSaved(saved);
    } catch (err) {
      errorBox.replaceChildren(icon('circle-alert'), h('span', errorText(err)));
      errorBox.hidden = false;
      errorBox.focus?.();
    } finally {
      saveButton.disabled = false;
    }
  });
  return d;
}
