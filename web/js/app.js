// app.js — what the views share: who is logged in, navigation, messages,
// the counters of the navigation, and cached lists (colleagues, companies).

import { get } from './api.js';
import { h, icon } from './dom.js';
import { currentLocale, t } from './i18n.js';

export const state = {
  me: null, // {authenticated, user, csrf_token, unread_notifications, counts}
  counts: { inbox: null, followups: null, unread: 0 },
  users: null,
  companies: null,
};

const listeners = { navigate: null, counts: new Set() };

export function setNavigator(fn) {
  listeners.navigate = fn;
}

/** Goes to a path of the UI (history routing). */
export function navigate(path, { replace = false } = {}) {
  listeners.navigate(path, { replace });
}

/** A link inside the app; the router takes over plain left clicks. */
export function link(href, ...children) {
  let attrs = {};
  if (children.length && children[0] && typeof children[0] === 'object' && !(children[0] instanceof Node) && !Array.isArray(children[0])) {
    attrs = children.shift();
  }
  return h('a', { href, 'data-link': '', ...attrs }, ...children);
}

export function onCounts(fn) {
  listeners.counts.add(fn);
}

function emitCounts() {
  for (const fn of listeners.counts) fn(state.counts);
}

let lastRefresh = 0;

/**
 * Takes the counters of the navigation from an answer of GET /api/v1/me,
 * GET or POST /api/v1/session: {counts: {pending, followups_due,
 * unread_notifications}}.
 */
export function applyCounts(me) {
  const c = (me && me.counts) || {};
  lastRefresh = Date.now();
  state.counts.inbox = c.pending ?? null;
  state.counts.followups = c.followups_due ?? null;
  state.counts.unread = c.unread_notifications ?? (me ? me.unread_notifications : 0) ?? 0;
  emitCounts();
}

/** Refreshes the counters now and then (after navigation): at most every 15 s. */
export function refreshCountsSoon() {
  if (Date.now() - lastRefresh > 15000) refreshCounts();
}

/** Sets one counter from data a page has loaded anyway. */
export function setCount(key, value) {
  state.counts[key] = value;
  emitCounts();
}

let inflight = null;

/**
 * Refreshes the counters of the navigation (inbox, follow-ups due, unread):
 * one GET /api/v1/me. Resolves to its answer (null when it failed).
 */
export function refreshCounts() {
  if (!state.me) return Promise.resolve(null);
  if (inflight) return inflight; // one request at a time
  lastRefresh = Date.now();
  inflight = get('me').then((me) => {
    if (state.me) applyCounts(me);
    return state.me ? me : null;
  }, (err) => {
    if (err.status !== 401) console.warn('counts:', err.message);
    return null;
  }).finally(() => {
    inflight = null;
  });
  return inflight;
}

/**
 * The counters, fetched again unless they are at most maxAge ms old (the
 * answer of the login or of GET /api/v1/session a moment ago).
 */
export async function freshCounts(maxAge = 3000) {
  if (inflight) await inflight;
  else if (Date.now() - lastRefresh > maxAge) await refreshCounts();
  return state.counts;
}

export function setUnread(n) {
  state.counts.unread = n;
  emitCounts();
}

/** The tenant's users ("Benutzer informieren"), cached for the session. */
export async function users() {
  if (!state.users) state.users = (await get('users')).items;
  return state.users;
}

/** The tenant's companies (for choosing one), cached for a minute. */
export async function companies() {
  const now = Date.now();
  if (!state.companies || now - state.companies.at > 60000) {
    const items = [];
    let offset = 0;
    for (let i = 0; i < 10; i++) {
      const page = await get('companies', { limit: 200, offset });
      items.push(...page.items);
      if (page.next_offset === null || page.next_offset === undefined) break;
      offset = page.next_offset;
    }
    items.sort((a, b) => a.name.localeCompare(b.name, 'de'));
    state.companies = { at: now, items };
  }
  return state.companies.items;
}

export function forgetCaches() {
  state.users = null;
  state.companies = null;
}

const TOASTS_SHOWN = 3;

/** Says something to everybody: a toast, read out by screen readers. The same words
 *  again replace the toast that says them; no more than three are shown, the oldest go. */
export function toast(message, kind = 'success') {
  const box = document.getElementById('toasts');
  const names = { success: 'circle-check', error: 'circle-alert', info: 'info' };
  const said = `${kind}:${message}`;
  for (const old of [...box.children]) if (old.dataset.said === said) old.remove();
  while (box.children.length >= TOASTS_SHOWN) box.firstElementChild.remove();
  const el = h(`div.toast.toast-${kind}`, icon(names[kind] || 'info'), h('span', message),
    h('button.toast-close', { type: 'button', 'aria-label': t('common.close'), onclick: () => el.remove() }, icon('x')));
  el.dataset.said = said;
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 9000 : 5000);
}

/** A message for an ApiError or any failure, in the user's language. */
export function errorText(err) {
  if (!err) return t('error.generic');
  if (err.status === 0) return t('error.network');
  if (err.status === 403 && err.code === 'csrf') return t('error.csrf');
  if (err.status === 403) return t('error.forbidden');
  if (err.status === 404) return t('error.not_found');
  if (err.status === 409) return t('error.conflict');
  if (err.status === 413) return t('error.too_large');
  if (err.status === 422) return invalidText(err);
  if (err.status === 429) return t('error.throttled');
  if (err.status >= 500) return t('error.server');
  if (err.status === 400) return t('error.bad_request');
  return t('error.generic');
}

/*
 * 422 says in `detail` (English, for developers) what did not fit; the user
 * reads it in their language. The details the review and the forms can meet
 * have a sentence of their own; any other is shown only in the English UI.
 */
const INVALID = [
  [/belongs to company .*not to the entry's company/, 'error.other_company'],
  [/a lead or a project, not (to )?both/, 'error.lead_and_project'],
  [/follow-up date/, 'error.bad_followup'],
  [/colleagues are told only of entries/, 'error.notify_own'],
  [/subject/, 'error.need_subject'],
];

function invalidText(err) {
  const detail = (err.problem && err.problem.detail) || '';
  const known = INVALID.find(([re]) => re.test(detail));
  if (known) return t(known[1]);
  return currentLocale() === 'en' && detail ? t('error.invalid_detail', { detail }) : t('error.invalid');
}

/** Announces a short text to screen readers without showing it. */
export function announce(text) {
  const live = document.getElementById('live');
  live.textContent = '';
  setTimeout(() => {
    live.textContent = text;
  }, 50);
}
