// views/entry.js — one entry (GET /api/v1/entries/{id}) with its full
// text; a pending mail shows its review card. Its author (or an admin)
// corrects a saved entry here ("Bearbeiten") or deletes it.

import { del, get, patch } from '../api.js';
import { errorText, navigate, refreshCounts, toast } from '../app.js';
import { h, icon } from '../dom.js';
import { t } from '../i18n.js';
import { entryCard, fullText } from '../components/entries.js';
import { openEntryForm, targetOf } from '../components/entry-form.js';
import { candidateCompanyNames, reviewCard } from '../components/review.js';
import { confirmDialog, leadLabel, pageHeader, projectLabel } from '../components/ui.js';

function backOf(entry) {
  if (entry.state === 'pending') return { href: '/inbox', label: t('inbox.title') };
  if (entry.lead) return { href: `/leads/${entry.lead.id}`, label: leadLabel(entry.lead) };
  if (entry.project) return { href: `/projects/${entry.project.id}`, label: projectLabel(entry.project) };
  if (entry.company) return { href: `/companies/${entry.company.id}`, label: entry.company.name };
  return { href: '/inbox/own', label: t('inbox.tab_own') };
}

export async function renderEntry(id) {
  const entry = await get(`entries/${id}`);
  const subject = entry.subject && entry.subject.trim() ? entry.subject : t('entry.no_subject');
  if (entry.state === 'pending') {
    const companyNames = await candidateCompanyNames([entry]);
    return {
      title: subject,
      node: h('section.page',
        pageHeader({ title: t('entry.review_title'), back: backOf(entry) }),
        h('div.review-list', reviewCard(entry, { onDone: () => navigate('/inbox'), companyNames }))),
    };
  }
  const actions = [];
  if (entry.followup && entry.can_edit) {
    const b = h('button.button.button-small', {
      type: 'button',
      onclick: async () => {
        b.disabled = true;
        try {
          await patch(`entries/${entry.id}`, { followup_done: !entry.followup_done, version: entry.version });
          toast(entry.followup_done ? t('followup.reopened') : t('followup.marked_done'));
          refreshCounts();
          navigate(`/entries/${entry.id}`, { replace: true });
        } catch (err) {
          toast(errorText(err), 'error');
          b.disabled = false;
        }
      },
    }, icon(entry.followup_done ? 'history' : 'check'), h('span', entry.followup_done ? t('followup.reopen') : t('followup.done')));
    actions.push(b);
  }
  if (entry.can_edit && entry.state === 'saved') {
    actions.push(h('button.button.button-small', {
      type: 'button',
      onclick: () => openEntryForm(targetOf(entry), (saved) => navigate(`/entries/${saved.id}`, { replace: true }), entry)
        .catch((err) => toast(errorText(err), 'error')),
    }, icon('pencil'), h('span', t('entry.edit'))));
    const remove = h('button.button.button-small.button-quiet-danger', {
      type: 'button',
      onclick: async () => {
        const ok = await confirmDialog({ title: t('entry.delete_title'), text: t('entry.delete_text', { subject }), yes: t('entry.delete'), danger: true });
        if (!ok) return;
        remove.disabled = true;
        try {
          await del(`entries/${entry.id}`, { version: entry.version });
          toast(t('entry.deleted'), 'info');
          refreshCounts();
          navigate(backOf(entry).href);
        } catch (err) {
          toast(errorText(err), 'error');
          remove.disabled = false;
        }
      },
    }, icon('trash-2'), h('span', t('entry.delete')));
    actions.push(remove);
  }
  // Follow-up and edit together on the left, delete apart on the right.
  const danger = actions.filter((b) => b.classList.contains('button-quiet-danger'));
  const others = actions.filter((b) => !danger.includes(b));
  const foot = actions.length ? [others.length ? h('div.entry-actions', others) : null, ...danger] : null;
  const card = entryCard(entry, { headingLevel: 2, expanded: true, actions: foot });
  card.querySelector('.entry-card').append(h('div.entry-full', fullText(entry)));
  const state = entry.state === 'discarded' ? h('p.hint', icon('trash-2'), h('span', t('entry.discarded_note'))) : null;
  return {
    title: subject,
    node: h('section.page',
      pageHeader({ title: t('entry.title'), back: backOf(entry) }),
      state,
      h('div.timeline.timeline-single', card)),
  };
}
