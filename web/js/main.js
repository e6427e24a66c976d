// main.js — starts the UI: language, session, the frame (header, navigation,
// main area) and the router (history routing; the server answers every
// path that is not a file with index.html).

import { api, ApiError, get, patch, setCsrfToken, setUnauthorizedHandler } from './api.js';
import { applyCounts, forgetCaches, onCounts, refreshCounts, refreshCountsSoon, setNavigator, state, toast, errorText, link } from './app.js';
import { h, icon, replace } from './dom.js';
import { currentLocale, rememberLocale, setLocale, storedLocale, t, LOCALES } from './i18n.js';
import { renderLogin } from './views/login.js';
import { renderInbox } from './views/inbox.js';
import { renderFollowups } from './views/followups.js';
import { renderNotifications } from './views/notifications.js';
import { renderSearch } from './views/search.js';
import { renderList, renderRecord } from './views/records.js';
import { renderEntry } from './views/entry.js';

const root = document.getElementById('app');
let frame = null; // {main, nav, badges}
let renderSeq = 0;
let lastPath = null;

const routes = [
  { path: /^\/inbox\/?$/, nav: 'inbox', view: (m, q) => renderInbox('pending', q) },
  { path: /^\/inbox\/own\/?$/, nav: 'inbox', view: (m, q) => renderInbox('own', q) },
  { path: /^\/followups\/?$/, nav: 'followups', view: (m, q) => renderFollowups(q) },
  { path: /^\/notifications\/?$/, nav: 'notifications', view: (m, q) => renderNotifications(q) },
  { path: /^\/search\/?$/, nav: 'search', view: (m, q) => renderSearch(q) },
  { path: /^\/companies\/?$/, nav: 'companies', view: (m, q) => renderList('companies', q) },
  { path: /^\/companies\/(\d+)\/?$/, nav: 'companies', view: (m, q) => renderRecord('company', m[1], q) },
  { path: /^\/leads\/?$/, nav: 'leads', view: (m, q) => renderList('leads', q) },
  { path: /^\/leads\/(\d+)\/?$/, nav: 'leads', view: (m, q) => renderRecord('lead', m[1], q) },
  { path: /^\/projects\/?$/, nav: 'projects', view: (m, q) => renderList('projects', q) },
  { path: /^\/projects\/(\d+)\/?$/, nav: 'projects', view: (m, q) => renderRecord('project', m[1], q) },
  { path: /^\/entries\/(\d+)\/?$/, nav: null, view: (m, q) => renderEntry(m[1], q) },
];

/* ---- the frame ---------------------------------------------------------------------------- */

function navItem(key, href, iconName, label, badgeKind) {
  const badge = badgeKind ? h(`span.nav-badge.nav-badge-${badgeKind}`, { hidden: true, 'data-badge': key }) : null;
  return h('li', link(href, { class: 'nav-link', 'data-nav': key }, icon(iconName), h('span.nav-label', label), badge));
}

function languageSwitch(onChange) {
  const group = h('div.lang-switch', { role: 'group', 'aria-label': t('lang.label') });
  for (const l of LOCALES) {
    group.append(h('button', {
      type: 'button',
      lang: l,
      'aria-pressed': String(l === currentLocale()),
      title: t(`lang.${l}`),
      'data-locale': l,
      onclick: () => onChange(l),
    }, l.toUpperCase()));
  }
  return group;
}

async function switchLanguage(l) {
  if (l === currentLocale()) return;
  try {
    if (state.me) {
      const me = await patch('me', { locale: l });
      state.me.user = me.user;
    }
    rememberLocale(l);
    await setLocale(l);
    if (state.me) buildFrame();
    await route({ keepFocus: true });
    const btn = document.querySelector(`.lang-switch [data-locale="${l}"]`);
    if (btn) btn.focus();
    toast(t('lang.changed'), 'info');
  } catch (err) {
    toast(errorText(err), 'error');
  }
}

function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((p) => p[0]).join('').toUpperCase();
}

function buildFrame() {
  const user = state.me.user;
  const main = h('main#main.main', { tabindex: '-1' });
  const closeMenu = () => {
    document.body.classList.remove('menu-open');
    menuButton.setAttribute('aria-expanded', 'false');
  };
  const menuButton = h('button.icon-button.menu-button', {
    type: 'button',
    'aria-label': t('nav.menu'),
    'aria-expanded': 'false',
    'aria-controls': 'sidebar',
    onclick: () => {
      const open = document.body.classList.toggle('menu-open');
      menuButton.setAttribute('aria-expanded', String(open));
      if (open) sidebar.querySelector('a').focus();
    },
  }, icon('menu'));

  const search = h('input', {
    type: 'search',
    name: 'q',
    id: 'global-search',
    placeholder: t('search.placeholder'),
    autocomplete: 'off',
  });
  const searchForm = h('form.header-search', {
    role: 'search',
    onsubmit: (ev) => {
      ev.preventDefault();
      const q = search.value.trim();
      if (q) setNavigate(`/search?q=${encodeURIComponent(q)}`);
    },
  }, h('label.visually-hidden', { for: 'global-search' }, t('search.label')), icon('search', { cls: 'search-icon' }), search);

  const bellBadge = h('span.bell-badge', { hidden: true, 'data-badge': 'unread' });
  const bell = link('/notifications', {
    class: 'icon-button bell',
    id: 'bell',
    'aria-label': t('nav.notifications'),
  }, icon('bell'), bellBadge);

  const header = h('header.topbar',
    menuButton,
    link('/inbox', { class: 'brand topbar-brand', 'aria-label': t('brand.home') },
      h('img', { src: '/img/logo.svg', alt: '', width: '28', height: '28' }),
      h('span.brand-name', 'contactlog')),
    searchForm,
    h('div.topbar-actions',
      link('/search', { class: 'icon-button search-link', 'aria-label': t('nav.search') }, icon('search')),
      languageSwitch(switchLanguage),
      bell,
      h('div.user-chip', { title: user.email || '' },
        h('span.avatar', { 'aria-hidden': 'true' }, initials(user.name)),
        h('span.user-name', h('span.user-fullname', user.name), h('span.user-tenant', user.tenant.name))),
      h('button.icon-button', { type: 'button', id: 'logout', 'aria-label': t('nav.logout'), title: t('nav.logout'), onclick: logout }, icon('log-out'))));

  const sidebar = h('nav#sidebar.sidebar', { 'aria-label': t('nav.label') },
    link('/inbox', { class: 'brand sidebar-brand', 'aria-label': t('brand.home') },
      h('img', { src: '/img/logo.svg', alt: '', width: '30', height: '30' }),
      h('span.brand-name', 'contactlog')),
    h('ul.nav-list',
      navItem('inbox', '/inbox', 'inbox', t('nav.inbox'), 'info'),
      navItem('followups', '/followups', 'calendar-clock', t('nav.followups'), 'danger'),
      navItem('notifications', '/notifications', 'bell', t('nav.notifications'), 'info'),
      navItem('search', '/search', 'search', t('nav.search'))),
    h('p.nav-heading', t('nav.records')),
    h('ul.nav-list',
      navItem('companies', '/companies', 'building-2', t('nav.companies')),
      navItem('leads', '/leads', 'target', t('nav.leads')),
      navItem('projects', '/projects', 'folder-kanban', t('nav.projects'))),
    h('div.sidebar-foot', h('span.sidebar-tenant', user.tenant.name)));
  sidebar.addEventListener('click', (ev) => {
    if (ev.target.closest('a')) closeMenu();
  });
  const scrim = h('div.scrim', { onclick: closeMenu });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && document.body.classList.contains('menu-open')) {
      closeMenu();
      menuButton.focus();
    }
  });

  replace(root,
    h('a.skip-link', { href: '#main' }, t('nav.skip')),
    header,
    sidebar,
    scrim,
    main);
  root.className = 'shell';
  root.removeAttribute('aria-busy');
  frame = { main, sidebar };
  showCounts(state.counts);
}

function showCounts(counts) {
  if (!frame) return;
  const set = (key, value) => {
    for (const el of document.querySelectorAll(`[data-badge="${key}"]`)) {
      const n = value === null || value === undefined ? 0 : value;
      const show = n !== 0 && n !== '0';
      el.hidden = !show;
      el.textContent = show ? String(n).replace(/^(\d+)\+$/, '$1+') : '';
    }
  };
  set('inbox', counts.inbox);
  set('followups', counts.followups);
  set('unread', counts.unread > 99 ? '99+' : counts.unread);
  set('notifications', counts.unread > 99 ? '99+' : counts.unread);
  const bell = document.getElementById('bell');
  if (bell) {
    bell.setAttribute('aria-label', counts.unread
      ? t('nav.notifications_unread', { n: counts.unread })
      : t('nav.notifications'));
  }
}
onCounts(showCounts);

async function logout() {
  try {
    await api('DELETE', 'session');
  } catch {
    /* the session may have ended already */
  }
  endSession();
  toast(t('login.logged_out'), 'info');
}

function endSession() {
  state.me = null;
  frame = null;
  forgetCaches();
  setCsrfToken(null);
  setNavigate('/login', { replace: true });
}

/* ---- routing ------------------------------------------------------------------------------ */

function setNavigate(path, { replace: rep = false } = {}) {
  if (rep) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}
setNavigator(setNavigate);

function markNav(key) {
  if (!frame) return;
  for (const a of frame.sidebar.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route({ keepFocus = false } = {}) {
  const seq = ++renderSeq;
  lastLocation = location.pathname + location.search;
  const path = location.pathname;
  const query = new URLSearchParams(location.search);

  if (path === '/login' || !state.me) {
    frame = null;
    if (state.me && path === '/login') {
      setNavigate('/inbox', { replace: true });
      return;
    }
    document.title = `${t('login.title')} – contactlog`;
    const next = path === '/login' ? query.get('next') : path + location.search;
    if (path !== '/login') history.replaceState(null, '', next && next !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login');
    root.className = 'login-root';
    root.removeAttribute('aria-busy');
    replace(root, renderLogin({
      next,
      onLanguage: switchLanguage,
      languageSwitch,
      onLogin: afterLogin,
    }));
    return;
  }
  if (path === '/' || path === '') {
    setNavigate('/inbox', { replace: true });
    return;
  }
  if (!frame) buildFrame();
  const found = routes.find((r) => r.path.test(path));
  markNav(found ? found.nav : null);
  const main = frame.main;
  main.setAttribute('aria-busy', 'true');
  main.classList.add('loading');
  let result;
  try {
    result = found ? await found.view(found.path.exec(path), query) : notFound();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    result = failure(err);
  }
  if (seq !== renderSeq) return; // a later navigation won
  main.classList.remove('loading');
  main.removeAttribute('aria-busy');
  document.title = `${result.title} – contactlog`;
  replace(main, result.node);
  // After a navigation (not the first page shown), focus goes to the new
  // page's heading, so that screen readers read where the user is now.
  const firstPage = lastPath === null;
  const samePage = lastPath === path;
  lastPath = path;
  if (!keepFocus && !samePage && !firstPage) {
    window.scrollTo(0, 0);
    const h1 = main.querySelector('h1');
    if (h1) {
      h1.setAttribute('tabindex', '-1');
      h1.focus({ preventScroll: true });
    }
  }
  if (result.after) result.after();
  refreshCountsSoon();
}

function notFound() {
  return {
    title: t('error.page_not_found'),
    node: h('section.page',
      h('div.empty-state', icon('circle-alert', { cls: 'empty-icon' }),
        h('h1', t('error.page_not_found')),
        h('p', t('error.page_not_found_text')),
        link('/inbox', { class: 'button' }, t('nav.inbox')))),
  };
}

function failure(err) {
  const notFoundErr = err instanceof ApiError && err.status === 404;
  if (!notFoundErr) console.error(err);
  return {
    title: notFoundErr ? t('error.not_found_title') : t('error.title'),
    node: h('section.page',
      h('div.empty-state', icon('circle-alert', { cls: 'empty-icon' }),
        h('h1', notFoundErr ? t('error.not_found_title') : t('error.title')),
        h('p', errorText(err)),
        link('/inbox', { class: 'button' }, t('nav.inbox')))),
  };
}

async function afterLogin(me, next, chosenLocale) {
  document.getElementById('toasts').replaceChildren(); // what was said before login is over
  state.me = me;
  setCsrfToken(me.csrf_token);
  let locale = me.user.locale || 'de';
  if (chosenLocale && chosenLocale !== locale) {
    // The language chosen on the login page wins and is remembered for the user.
    try {
      const updated = await patch('me', { locale: chosenLocale });
      state.me.user = updated.user;
      locale = chosenLocale;
    } catch {
      /* keep the user's */
    }
  }
  rememberLocale(locale);
  if (locale !== currentLocale()) await setLocale(locale);
  // The login's answer has the counters of the navigation: no request more for them.
  applyCounts(me);
  setNavigate(next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/inbox', { replace: true });
}

/* ---- start -------------------------------------------------------------------------------- */

document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest('a[data-link]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  ev.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search && !url.hash) {
    route({ keepFocus: false });
    return;
  }
  setNavigate(url.pathname + url.search);
});
let lastLocation = location.pathname + location.search;
window.addEventListener('popstate', () => {
  // A jump to a fragment (the skip link) is no new page.
  const here = location.pathname + location.search;
  if (here === lastLocation && location.hash) return;
  route();
});

setUnauthorizedHandler(() => {
  if (!state.me) return;
  toast(t('login.session_ended'), 'info');
  const here = location.pathname + location.search;
  endSession();
  history.replaceState(null, '', `/login?next=${encodeURIComponent(here)}`);
  route();
});

async function start() {
  // Logged in? GET /api/v1/session answers {"authenticated": false} rather
  // than 401, and with the user, the CSRF token and the counters otherwise.
  const [session] = await Promise.all([
    get('session').catch((err) => {
      console.warn('session:', err.message);
      return null;
    }),
    setLocale(storedLocale()),
  ]);
  if (session && session.authenticated) {
    state.me = session;
    setCsrfToken(session.csrf_token);
    const l = session.user.locale || 'de';
    rememberLocale(l);
    if (l !== currentLocale()) await setLocale(l);
    applyCounts(session);
  }
  await route();
  // The counters stay fresh while the page is open.
  setInterval(() => {
    if (state.me && document.visibilityState === 'visible') refreshCounts();
  }, 60000);
}

start().catch((err) => {
  console.error(err);
  replace(root, h('p.boot-text', 'contactlog: ', String(err.message || err)));
});
