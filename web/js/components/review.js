// components/review.js — a captured mail waiting in "Meine Kontakthistorie":
// what capture suggests (company, contact persons, lead or project), the
// other candidates, the reasons in plain words, and Bestätigen /
// Zuordnung ändern / Verwerfen.

import { post } from '../api.js';
import { companies, errorText, refreshCounts, state, toast, users } from '../app.js';
import { append, h, icon, newId } from '../dom.js';
import { formatDateTime, formatList, t } from '../i18n.js';
import { assignmentState, describeReason, recordConflict } from '../reasons.js';
import { attachmentList, fullTextToggle } from './entries.js';
import { checkedIds, companyRecords, followupField } from './entry-form.js';
import { CHANNELS, channelIcon, channelName, chip, confirmDialog, leadLabel, mailbox, openDialog, projectLabel, recordLink } from './ui.js';

function addresses(entry) {
  const ad = entry.addresses;
  if (!ad) return null;
  const fmt = (list) => (list || []).map(mailbox).join(', ');
  const rows = [];
  if (ad.from && ad.from.length) rows.push(h('div', h('dt', t('entry.from')), h('dd', fmt(ad.from))));
  if (ad.to && ad.to.length) rows.push(h('div', h('dt', t('entry.to')), h('dd', fmt(ad.to))));
  if (ad.cc && ad.cc.length) rows.push(h('div', h('dt', t('entry.cc')), h('dd', fmt(ad.cc))));
  return rows.length ? h('dl.mail-head', rows) : null;
}

function candidateLabel(kind, item) {
  if (kind === 'lead') return leadLabel(item);
  if (kind === 'project') return projectLabel(item);
  return item.name;
}

const KIND_ICONS = { company: 'building-2', contact: 'contact-round', lead: 'target', project: 'folder-kanban' };

/**
 * What a candidate chosen from the card preselects in the change dialog:
 * candidates carry their company ({id, key}), so nothing is asked for.
 */
function preselectFor(kind, item) {
  if (kind === 'company') return { company: item.id };
  const company = item.company ? item.company.id : null;
  if (kind === 'contact') return { company, contacts: [item.id] };
  return { company, record: `${kind}:${item.id}` };
}

/**
 * The companies that the cards of these entries name besides the entry's
 * own: candidates of another company than the entry's say which (two leads
 * "Relaunch Website" of two customers are told apart by it), and a lead or
 * project of another company than the contact person's (recordConflict) is
 * said with both companies' names. Candidates and reasons carry a company's
 * id or key only: the names come from the tenant's list of companies (cached
 * for a minute), and only when some card needs one.
 * Resolves to {byId: Map id → name, byKey: Map key → {id, key, name}} or null.
 */
export async function candidateCompanyNames(entries) {
  const needed = entries.some((e) => recordConflict(e) || Object.entries(e.candidates || {}).some(([kind, items]) => kind !== 'company'
    && (items || []).some((i) => i.company && (!e.company || e.company.id !== i.company.id))));
  if (!needed) return null;
  try {
    const list = await companies();
    return { byId: new Map(list.map((c) => [c.id, c.name])), byKey: new Map(list.map((c) => [c.key, c])) };
  } catch (err) {
    console.warn('companies:', err.message);
    return null;
  }
}

/**
 * Candidates come without a reason of their own: say in words why nothing
 * was chosen (several records fit), next to the capture's reasons.
 */
function candidateReasons(entry) {
  const cands = entry.candidates || {};
  const out = [];
  const records = (cands.lead || []).length + (cands.project || []).length;
  if (records > 1) out.push({ icon: 'target', field: 'lead', text: t('review.cand_records', { n: records }), warn: true });
  if ((cands.company || []).length > 1) out.push({ icon: 'building-2', field: 'company', text: t('review.cand_companies', { n: cands.company.length }), warn: true });
  const ambiguous = (entry.reasons || []).some((r) => r.field === 'contact' && (r.rule === 'ambiguous-address' || r.rule === 'message-scan'));
  if ((cands.contact || []).length > 1 && !ambiguous) out.push({ icon: 'contact-round', field: 'contact', text: t('review.cand_contacts', { n: cands.contact.length }), warn: true });
  // What is missing is said too (the badge says "Bitte prüfen" for it).
  const suggest = (entry.reasons || []).some((r) => r.field === 'contact' && r.rule === 'suggest-create');
  if (!entry.company && !(cands.company || []).length) out.push({ icon: 'building-2', field: 'company', text: t('review.missing_company'), warn: true });
  else if (!(entry.contacts || []).length && !(cands.contact || []).length && !ambiguous && !suggest) {
    out.push({ icon: 'contact-round', field: 'contact', text: t('review.missing_contact'), warn: true });
  }
  return out;
}

function reasonList(entry, { onCreateContact, companies: known = null } = {}) {
  const reasons = entry.reasons || [];
  const extra = candidateReasons(entry);
  if (!reasons.length && !extra.length) return h('p.muted', t('review.no_reasons'));
  const items = reasons.map((r) => {
    const d = describeReason(entry, r, known);
    if (r.field === 'contact' && r.rule === 'suggest-create' && onCreateContact && entry.company) {
      d.action = h('button.link-button.reason-action', { type: 'button', onclick: () => onCreateContact(r.detail) },
        icon('plus'), h('span', t('review.create_contact')));
    }
    return d;
  }).concat(extra);
  // The assignments first, then forwarding, then how the author was found.
  const order = { company: 1, contact: 2, lead: 3, project: 3, forwarded: 4, tenant: 6, user: 5 };
  const sorted = items.map((d, i) => ({ d, i })).sort((a, b) => (order[a.d.field] || 9) - (order[b.d.field] || 9) || a.i - b.i);
  return h('ul.reasons', sorted.map(({ d }) => h(`li.reason${d.warn ? '.reason-warn' : ''}${d.edit ? '.reason-edit' : ''}${d.minor ? '.reason-minor' : ''}`,
    h('span.reason-icon', icon(d.warn ? 'triangle-alert' : d.edit ? 'pencil' : d.icon)),
    h('span.reason-text', d.text, d.action ? h('span.reason-action-row', d.action) : null))));
}

/**
 * The card of one pending mail. onDone(entry, action) after it was saved or
 * discarded (the card removes itself).
 */
export function reviewCard(entry, { onDone, companyNames = null } = {}) {
  const titleId = newId('review');
  const card = h('article.review-card', { 'aria-labelledby': titleId, 'data-entry': entry.id });
  const status = h('div.card-status', { role: 'status' });

  const assignment = h('dl.assignment',
    h('div', h('dt', icon('building-2'), h('span', t('review.company'))),
      h('dd', entry.company ? recordLink('company', entry.company, { icon: false }) : h('span.missing', t('review.no_company')))),
    h('div', h('dt', icon('contact-round'), h('span', t('review.contacts'))),
      h('dd', entry.contacts && entry.contacts.length ? formatList(entry.contacts.map((c) => c.name)) : h('span.missing', t('review.no_contacts')))),
    h('div', h('dt', icon('target'), h('span', t('review.record'))),
      h('dd', entry.lead ? recordLink('lead', entry.lead, { icon: false })
        : entry.project ? recordLink('project', entry.project, { icon: false })
          : h('span.missing', t('review.no_record')))),
    h('div', h('dt', icon('mail'), h('span', t('review.channel'))), h('dd', channelName(entry.channel))));

  const cands = entry.candidates || {};
  const candidateButtons = [];
  for (const kind of ['lead', 'project', 'company', 'contact']) {
    for (const item of cands[kind] || []) {
      // Of another company than the entry's: say which (when its name is known).
      const other = kind !== 'company' && item.company && (!entry.company || entry.company.id !== item.company.id);
      const companyName = other && companyNames ? companyNames.byId.get(item.company.id) : null;
      candidateButtons.push(h('button.candidate', {
        type: 'button',
        title: t('review.use_candidate'),
        onclick: () => openChangeDialog(entry, preselectFor(kind, item), done),
      }, icon(KIND_ICONS[kind]),
      h('span.candidate-text', h('span.candidate-name', candidateLabel(kind, item)),
        companyName ? h('span.candidate-company', companyName) : null),
      h('span.candidate-action', t('review.choose'))));
    }
  }

  const done = (saved, action) => {
    card.classList.add('leaving');
    setTimeout(() => {
      card.remove();
      if (onDone) onDone(saved, action);
    }, 180);
    refreshCounts();
  };

  const act = async (button, fn) => {
    const buttons = card.querySelectorAll('.review-actions button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await fn();
    } catch (err) {
      toast(errorText(err), 'error');
      status.textContent = errorText(err);
      buttons.forEach((b) => { b.disabled = false; });
    }
  };

  const confirmButton = h('button.button.button-primary', {
    type: 'button',
    'data-action': 'confirm',
    onclick: () => act(confirmButton, async () => {
      const saved = await post(`entries/${entry.id}/confirm`, { version: entry.version });
      toast(t('review.saved', { where: whereText(saved) }));
      done(saved, 'confirm');
    }),
  }, icon('check'), h('span', t('review.confirm')));
  const changeButton = h('button.button', {
    type: 'button',
    'data-action': 'change',
    onclick: () => openChangeDialog(entry, {}, done),
  }, icon('pencil'), h('span', t('review.change')));
  const discardButton = h('button.button.button-quiet-danger', {
    type: 'button',
    'data-action': 'discard',
    onclick: async () => {
      const ok = await confirmDialog({
        title: t('review.discard_title'),
        text: t('review.discard_text', { subject: entry.subject || t('entry.no_subject') }),
        yes: t('review.discard'),
        danger: true,
      });
      if (!ok) return;
      await act(discardButton, async () => {
        await post(`entries/${entry.id}/discard`, { version: entry.version });
        toast(t('review.discarded'), 'info');
        done(null, 'discard');
      });
    },
  }, icon('trash-2'), h('span', t('review.discard')));

  const preview = entry.preview ? h('p.entry-preview', entry.preview) : null;
  // Pending mail comes with its addresses, in the inbox too: From/To/Cc without a request more.
  const mailHead = addresses(entry);
  // The card shows From/To/Cc above; the full text does not repeat them.
  const toggle = fullTextToggle(entry, { addresses: !mailHead });
  const badge = {
    check: () => chip(t('review.check'), 'warning', 'triangle-alert'),
    no_record: () => chip(t('review.no_lead_project'), 'neutral', 'info'),
    ready: () => chip(t('review.ready'), 'success', 'circle-check'),
  }[assignmentState(entry)]();
  const conflict = conflictBox(entry, companyNames, (body) => act(null, async () => {
    const saved = await post(`entries/${entry.id}/confirm`, { version: entry.version, ...body });
    toast(t('review.saved', { where: whereText(saved) }));
    done(saved, 'confirm');
  }));
  append(card, [
    h('header.review-head',
      channelIcon(entry.channel),
      h('div.review-title',
        h('h2', { id: titleId }, entry.subject && entry.subject.trim() ? entry.subject : t('entry.no_subject')),
        h('p.review-sub',
          h('time', { datetime: entry.contact_time || '' }, formatDateTime(entry.contact_time)),
          entry.forwarded ? chip(t('entry.forwarded'), 'neutral', 'forward') : null,
          badge))),
    mailHead,
    preview,
    attachmentList(entry),
    h('div.review-grid',
      h('section.review-section', { 'aria-label': t('review.suggestion') },
        h('h3.section-title', t('review.suggestion')),
        assignment,
        candidateButtons.length ? h('div.candidates', h('h4.sub-heading', t('review.candidates')), h('div.candidate-list', candidateButtons)) : null),
      h('section.review-section.review-why', { 'aria-label': t('review.why') },
        h('h3.section-title', icon('lightbulb'), h('span', t('review.why'))),
        reasonList(entry, { onCreateContact: (address) => openCreateContact(entry, address, done), companies: companyNames ? companyNames.byKey : null }))),
    conflict ? conflict.node : null,
    h('div.entry-foot', toggle.button),
    toggle.panel,
    status,
    // A card that cannot be confirmed as it is offers the ways out instead of Bestätigen.
    h('footer.review-actions', conflict ? conflict.buttons : confirmButton, changeButton, discardButton)]);
  return card;
}

/**
 * The lead or project of the subject belongs to another company than the
 * contact person (recordConflict): confirming as it is would be refused
 * (422). Says so with both companies' names and offers the two ways out:
 * the company follows the record (its company and the record; contact
 * persons of the other company are not kept), or the entry stays with the
 * contact's company without lead/project. {node, buttons} or null.
 * save(body) confirms with the body's changes.
 */
function conflictBox(entry, known, save) {
  const c = recordConflict(entry);
  if (!c) return null;
  const other = known && known.byKey ? known.byKey.get(c.recordCompany) : null;
  const recordCompany = other ? other.name : c.recordCompany;
  const entryCompany = entry.company.name || c.entryCompany;
  const record = c.kind === 'lead' ? t('reason.lead_key', { number: c.record.number })
    : t('reason.project_named', { name: c.record.name || c.record.key });
  const named = c.kind === 'lead' ? t('reason.lead_named', { number: c.record.number, name: c.record.name })
    : record;
  const contacts = (entry.contacts || []).map((x) => x.name);
  const text = contacts.length
    ? t('review.conflict_text', { record: named, recordCompany, contact: formatList(contacts), contactCompany: entryCompany })
    : t('review.conflict_text_nocontact', { record: named, recordCompany, contactCompany: entryCompany });
  const buttons = [];
  if (other) {
    // Choosing a lead or project brings its company (docs/api.md): both are sent,
    // so that nothing of the entry's company is checked against the record.
    buttons.push(h('button.button.button-primary', {
      type: 'button',
      'data-action': 'confirm-record',
      onclick: () => save({ company: other.id, [c.kind]: c.record.id }),
    }, icon('check'), h('span', t('review.save_with_record', { record, company: recordCompany }))));
  }
  buttons.push(h(`button.button${other ? '' : '.button-primary'}`, {
    type: 'button',
    'data-action': 'confirm-without-record',
    onclick: () => save({ [c.kind]: null }),
  }, icon('check'), h('span', t(c.kind === 'lead' ? 'review.save_without_lead' : 'review.save_without_project'))));
  const hints = [];
  if (other && contacts.length) hints.push(h('li', t('review.save_with_record_hint', { record, company: recordCompany, contact: formatList(contacts) })));
  hints.push(h('li', t('review.save_without_hint', { company: entryCompany, word: t(`reason.${c.kind}_word`) })));
  const node = h('section.review-conflict', { role: 'note', 'aria-label': t('review.conflict_title') },
    h('h3.section-title', icon('triangle-alert'), h('span', t('review.conflict_title'))),
    h('p', text),
    h('ul.conflict-hints', hints));
  return { node, buttons };
}

function whereText(entry) {
  if (entry.lead) return leadLabel(entry.lead);
  if (entry.project) return projectLabel(entry.project);
  if (entry.company) return entry.company.name;
  return t('entry.own_history');
}

/**
 * "Zuordnung ändern": company, contact persons, lead or project, channel,
 * users to notify, follow-up; saving confirms the entry with the changes.
 * pre: {company, contacts, record} to preselect (a candidate).
 */
async function openChangeDialog(entry, pre, done) {
  let list;
  let colleagues;
  try {
    [list, colleagues] = await Promise.all([companies(), users()]);
  } catch (err) {
    toast(errorText(err), 'error');
    return;
  }
  const me = state.me.user;
  const initialCompany = entry.company ? entry.company.id : null;
  const initialRecord = entry.lead ? `lead:${entry.lead.id}` : entry.project ? `project:${entry.project.id}` : '';
  const initialContacts = (entry.contacts || []).map((c) => c.id);
  const candidateIds = new Set();
  for (const [kind, items] of Object.entries(entry.candidates || {})) for (const i of items) candidateIds.add(`${kind}:${i.id}`);

  const formId = newId('change');
  const errorBox = h('div.form-error', { role: 'alert', hidden: true });
  const companyId = newId('company');
  const companySelect = h('select', { id: companyId, name: 'company' },
    h('option', { value: '' }, t('change.no_company')),
    list.map((c) => h('option', { value: String(c.id) }, c.name + (candidateIds.has(`company:${c.id}`) ? ` — ${t('change.suggested')}` : ''))));
  const recordId = newId('record');
  const recordSelect = h('select', { id: recordId, name: 'record' });
  const contactsWrap = h('div.contacts-wrap');
  const channelId = newId('channel');
  const channelSelect = h('select', { id: channelId, name: 'channel' },
    CHANNELS.map((c) => h('option', { value: c, selected: c === entry.channel }, channelName(c))));
  const followup = followupField(entry.followup || '');
  const notifyBox = h('fieldset.check-group', h('legend', t('form.notify')),
    h('div.check-grid', colleagues.filter((u) => u.id !== me.id).map((u) => {
      const id = newId('notify');
      return h('label.check', { for: id },
        h('input', { type: 'checkbox', id, name: 'notify', value: String(u.id), checked: (entry.notify || []).some((n) => n.id === u.id) }),
        h('span.check-text', h('span', u.name)));
    })));

  const fillCompany = async (cid, { contacts, record }) => {
    recordSelect.disabled = true;
    let recs = { contacts: [], leads: [], projects: [] };
    try {
      recs = await companyRecords(cid);
    } catch (err) {
      errorBox.replaceChildren(icon('circle-alert'), h('span', errorText(err)));
      errorBox.hidden = false;
    }
    recordSelect.replaceChildren(
      h('option', { value: '' }, cid ? t('change.no_record') : t('change.no_record_no_company')),
      recs.leads.length ? h('optgroup', { label: t('nav.leads') }, recs.leads.map((l) => h('option', { value: `lead:${l.id}` },
        leadLabel(l) + (candidateIds.has(`lead:${l.id}`) ? ` — ${t('change.suggested')}` : '')))) : null,
      recs.projects.length ? h('optgroup', { label: t('nav.projects') }, recs.projects.map((p) => h('option', { value: `project:${p.id}` },
        projectLabel(p) + (candidateIds.has(`project:${p.id}`) ? ` — ${t('change.suggested')}` : '')))) : null);
    recordSelect.value = record || '';
    if (recordSelect.value !== (record || '')) recordSelect.value = '';
    recordSelect.disabled = !cid;
    const set = new Set((contacts || []).map(String));
    const box = h('fieldset.check-group', h('legend', t('form.contacts')));
    if (!cid) box.append(h('p.muted.small', t('change.contacts_need_company')));
    else if (!recs.contacts.length) box.append(h('p.muted.small', t('form.no_contacts')));
    else {
      box.append(h('div.check-grid', recs.contacts.map((c) => {
        const id = newId('contact');
        return h('label.check', { for: id },
          h('input', { type: 'checkbox', id, name: 'contacts', value: String(c.id), checked: set.has(String(c.id)) }),
          h('span.check-text', h('span', c.name), h('span.check-sub', (c.emails || [])[0] || c.phone || '')));
      })));
    }
    contactsWrap.replaceChildren(box);
  };

  const startCompany = pre.company !== undefined ? pre.company : initialCompany;
  companySelect.value = startCompany ? String(startCompany) : '';
  await fillCompany(startCompany, {
    contacts: pre.contacts || (startCompany === initialCompany ? initialContacts : []),
    record: pre.record !== undefined ? pre.record : (startCompany === initialCompany ? initialRecord : ''),
  });
  companySelect.addEventListener('change', () => {
    const cid = companySelect.value ? Number(companySelect.value) : null;
    fillCompany(cid, cid === initialCompany ? { contacts: initialContacts, record: initialRecord } : { contacts: [], record: '' });
  });

  const saveButton = h('button.button.button-primary', { type: 'submit', form: formId }, icon('check'), h('span', t('change.save')));
  const form = h('form.change-form', { id: formId, novalidate: true },
    h('p.form-where', icon('mail'), h('span', entry.subject || t('entry.no_subject'))),
    errorBox,
    h('div.form-grid',
      h('div.field', h('label', { for: companyId }, t('review.company')), companySelect),
      h('div.field', h('label', { for: recordId }, t('review.record')), recordSelect)),
    contactsWrap,
    h('div.form-grid',
      h('div.field', h('label', { for: channelId }, t('review.channel')), channelSelect),
      followup.node),
    notifyBox);

  const d = openDialog({
    title: t('change.title'),
    body: form,
    wide: true,
    footer: [h('button.button', { type: 'button', onclick: () => d.close() }, t('common.cancel')), saveButton],
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errorBox.hidden = true;
    const body = { version: entry.version };
    const cid = companySelect.value ? Number(companySelect.value) : null;
    if (cid !== initialCompany) body.company = cid;
    const contacts = cid ? checkedIds(form, 'contacts') : [];
    const sameContacts = contacts.length === initialContacts.length && contacts.every((c, i) => c === initialContacts[i]);
    if (!sameContacts) body.contacts = contacts;
    const rec = cid ? recordSelect.value : '';
    if (rec !== initialRecord || cid !== initialCompany) {
      if (rec.startsWith('lead:')) body.lead = Number(rec.slice(5));
      else if (rec.startsWith('project:')) body.project = Number(rec.slice(8));
      else {
        body.lead = null;
        body.project = null;
      }
    }
    if (channelSelect.value !== entry.channel) body.channel = channelSelect.value;
    const notify = checkedIds(form, 'notify');
    if (notify.length || (entry.notify || []).length) body.notify = notify;
    if ((followup.input.value || null) !== (entry.followup || null)) body.followup = followup.input.value || null;
    saveButton.disabled = true;
    try {
      const saved = await post(`entries/${entry.id}/confirm`, body);
      d.close();
      toast(t('review.saved', { where: whereText(saved) }));
      done(saved, 'confirm');
    } catch (err) {
      errorBox.replaceChildren(icon('circle-alert'), h('span', errorText(err)));
      errorBox.hidden = false;
    } finally {
      saveButton.disabled = false;
    }
  });
}

/**
 * "Als Ansprechpartner anlegen": an address at the company's domain that no
 * contact person has yet (reason suggest-create) becomes one; then the
 * assignment dialog opens with the new contact person chosen.
 */
function openCreateContact(entry, address, done) {
  const ad = entry.addresses || {};
  const known = [...(ad.to || []), ...(ad.cc || []), ...(ad.from || [])]
    .find((a) => a.address && a.address.toLowerCase() === address.toLowerCase());
  const guess = known && known.name ? known.name : '';
  const formId = newId('contact-form');
  const errorBox = h('div.form-error', { role: 'alert', hidden: true });
  const nameId = newId('cname');
  const mailId = newId('cmail');
  const phoneId = newId('cphone');
  const name = h('input', { type: 'text', id: nameId, name: 'name', value: guess, required: true, autocomplete: 'off' });
  const mail = h('input', { type: 'email', id: mailId, name: 'email', value: address, required: true });
  const phone = h('input', { type: 'text', id: phoneId, name: 'phone', autocomplete: 'off', inputmode: 'tel' });
  const save = h('button.button.button-primary', { type: 'submit', form: formId }, icon('check'), h('span', t('contact.save')));
  const form = h('form', { id: formId, novalidate: true },
    h('p.form-where', icon('building-2'), h('span', entry.company.name)),
    errorBox,
    h('div.field', h('label', { for: nameId }, t('contact.name')), name),
    h('div.form-grid',
      h('div.field', h('label', { for: mailId }, t('contact.email')), mail),
      h('div.field', h('label', { for: phoneId }, t('contact.phone')), phone)));
  const d = openDialog({
    title: t('contact.title'),
    body: form,
    footer: [h('button.button', { type: 'button', onclick: () => d.close() }, t('common.cancel')), save],
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errorBox.hidden = true;
    if (!name.value.trim()) {
      name.setAttribute('aria-invalid', 'true');
      errorBox.replaceChildren(icon('circle-alert'), h('span', t('contact.need_name')));
      errorBox.hidden = false;
      name.focus();
      return;
    }
    save.disabled = true;
    try {
      const body = { company: entry.company.id, name: name.value.trim(), emails: [mail.value.trim()] };
      if (phone.value.trim()) body.phone = phone.value.trim();
      const created = await post('contacts', body);
      d.close();
      toast(t('contact.created', { name: created.name }));
      openChangeDialog(entry, { company: entry.company.id, contacts: [created.id] }, done);
    } catch (err) {
      errorBox.replaceChildren(icon('circle-alert'), h('span', errorText(err)));
      errorBox.hidden = false;
    } finally {
      save.disabled = false;
    }
  });
}
