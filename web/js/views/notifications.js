// views/notifications.js — "Benachrichtigungen": colleagues who asked to
// be told about an entry ("Benutzer informieren") and captured mail to
// review; unread ones marked, read one by one or all at once.

import { get, post } from '../api.js';
import { errorText, navigate, setUnread, toast } from '../app.js';
import { append, h, icon } from '../dom.js';
import { formatDateTime, relativeTime, t, tn } from '../i18n.js';
import { emptyState, leadLabel, pageHeader, projectLabel } from '../components/ui.js';

function describe(n) {
  const subject = n.entry && n.entry.subject ? n.entry.subject : t('entry.no_subject');
  if (n.kind === 'notify') {
    return t('notification.notify', { name: n.actor ? n.actor.name : t('notification.someone'), subject });
  }
  if (n.kind === 'captured') return t('notification.captured', { subject });
  return t('notification.other', { subject });
}

function where(entry) {
  if (!entry) return '';
  if (entry.lead) return leadLabel({ number: entry.lead.key, ...entry.lead });
  if (entry.project) return projectLabel(entry.project);
  if (entry.company) return entry.company.name;
  return '';
}

export async function renderNotifications() {
  const list = h('ul.notification-list');
  const more = h('button.button.more-button', { type: 'button', hidden: true }, t('history.more'));
  const subtitle = h('span');
  const allRead = h('button.button', {
    type: 'button',
    id: 'mark-all-read',
    onclick: async () => {
      allRead.disabled = true;
      try {
        await post('me/notifications/read');
        for (const li of list.querySelectorAll('.notification.unread')) {
          li.classList.remove('unread');
          const b = li.querySelector('.mark-read');
          if (b) b.remove();
        }
        setUnread(0);
        subtitle.textContent = t('notification.all_read');
        toast(t('notification.marked_all'));
      } catch (err) {
        toast(errorText(err), 'error');
      } finally {
        allRead.disabled = false;
      }
    },
  }, icon('check-check'), h('span', t('notification.mark_all')));

  let cursor = null;
  let unread = 0;
  const markRead = async (n, li) => {
    await post(`me/notifications/${n.id}/read`);
    if (li.classList.contains('unread')) {
      li.classList.remove('unread');
      unread = Math.max(0, unread - 1);
      setUnread(unread);
      subtitle.textContent = unread ? tn('notification.unread_count', unread) : t('notification.all_read');
    }
    const b = li.querySelector('.mark-read');
    if (b) b.remove();
  };

  const item = (n) => {
    const li = h(`li.notification${n.read ? '' : '.unread'}`, { 'data-notification': n.id });
    const open = async (ev) => {
      ev.preventDefault();
      try {
        if (!n.read) await markRead(n, li);
      } catch (err) {
        toast(errorText(err), 'error');
      }
      if (n.entry) navigate(`/entries/${n.entry.id}`);
    };
    const text = describe(n);
    append(li, [
      h('span.notification-icon', icon(n.kind === 'captured' ? 'inbox' : 'bell')),
      h('div.notification-body',
        h('a.notification-text', { href: n.entry ? `/entries/${n.entry.id}` : '#', onclick: open }, text),
        h('p.notification-meta',
          h('time', { datetime: n.created, title: formatDateTime(n.created) }, relativeTime(n.created)),
          where(n.entry) ? h('span', ' · ', where(n.entry)) : null,
          n.read ? null : h('span.visually-hidden', ` · ${t('notification.unread')}`))),
      n.read ? null : h('button.icon-button.mark-read', {
        type: 'button',
        'aria-label': t('notification.mark_one', { text }),
        title: t('notification.mark_read'),
        onclick: async () => {
          try {
            await markRead(n, li);
            li.querySelector('.notification-text').focus();
          } catch (err) {
            toast(errorText(err), 'error');
          }
        },
      }, icon('check'))]);
    return li;
  };

  const status = h('div.history-status');
  const load = async () => {
    const page = await get('me/notifications', { limit: 30, cursor });
    unread = page.unread;
    setUnread(unread);
    subtitle.textContent = unread ? tn('notification.unread_count', unread) : t('notification.all_read');
    for (const n of page.items) list.append(item(n));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!list.children.length) status.replaceChildren(emptyState('bell', t('notification.empty_title'), t('notification.empty_text')));
  };
  more.addEventListener('click', () => load().catch((err) => toast(errorText(err), 'error')));
  await load();
  return {
    title: t('notification.title'),
    node: h('section.page',
      pageHeader({ title: t('notification.title'), subtitle, actions: allRead }),
      h('div.card.card-flush', list, status),
      h('div.more-row', more)),
  };
}
