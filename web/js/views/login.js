// views/login.js — the login page: e-mail and password, wrong password and
// throttling (429 with Retry-After) said in words, the language switch.

import { post, ApiError } from '../api.js';
import { h, icon, newId } from '../dom.js';
import { intlLocale, t } from '../i18n.js';

/** "in 45 Sekunden", "in 2 Minuten" for a Retry-After in seconds. */
function waitText(seconds) {
  const rtf = new Intl.RelativeTimeFormat(intlLocale(), { numeric: 'always' });
  const s = Math.max(1, Number(seconds) || 60);
  return s < 60 ? rtf.format(s, 'second') : rtf.format(Math.ceil(s / 60), 'minute');
}

// Chosen with the switch on this page (it wins over the user's stored language),
// and what was typed before the page was drawn again in the other language.
let chosenLocale = null;
let typedEmail = '';

export function renderLogin({ next, languageSwitch, onLanguage, onLogin }) {
  const emailId = newId('email');
  const passwordId = newId('password');
  const errorId = newId('login-error');
  const email = h('input', { id: emailId, name: 'email', type: 'email', autocomplete: 'username', required: true, spellcheck: 'false', autocapitalize: 'off' });
  const password = h('input', { id: passwordId, name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('div.form-error', { id: errorId, role: 'alert', hidden: true });
  const submit = h('button.button.button-primary.button-block', { type: 'submit' }, t('login.submit'));

  const showError = (text) => {
    error.replaceChildren(icon('circle-alert'), h('span', text));
    error.hidden = false;
    email.setAttribute('aria-describedby', errorId);
    password.setAttribute('aria-invalid', 'true');
  };

  const form = h('form.login-form', {
    novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      password.removeAttribute('aria-invalid');
      if (!email.value.trim() || !password.value) {
        showError(t('login.missing'));
        (email.value.trim() ? password : email).focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = t('login.submitting');
      try {
        const me = await post('session', { email: email.value.trim(), password: password.value });
        const chosen = chosenLocale;
        chosenLocale = null;
        typedEmail = '';
        await onLogin(me, next, chosen);
      } catch (err) {
        submit.disabled = false;
        submit.textContent = t('login.submit');
        if (err instanceof ApiError && err.status === 401) showError(t('login.wrong'));
        else if (err instanceof ApiError && err.status === 429) showError(t('login.throttled', { wait: waitText(err.retryAfter) }));
        else if (err instanceof ApiError && err.status === 422) showError(t('login.missing'));
        else if (err instanceof ApiError && err.status === 0) showError(t('error.network'));
        else showError(t('error.server'));
        password.select();
        password.focus();
      }
    },
  },
  error,
  h('div.field', h('label', { for: emailId }, t('login.email')), email),
  h('div.field', h('label', { for: passwordId }, t('login.password')), password),
  submit);

  const page = h('div.login-page',
    h('aside.login-brand', { 'aria-hidden': 'true' },
      h('div.login-brand-inner',
        h('div.brand.brand-large', h('img', { src: '/img/logo.svg', alt: '', width: '40', height: '40' }), h('span.brand-name', 'contactlog')),
        h('p.login-claim', t('login.claim')),
        h('ul.login-points',
          h('li', icon('mail-open'), h('span', t('login.point_mail'))),
          h('li', icon('lightbulb'), h('span', t('login.point_reasons'))),
          h('li', icon('calendar-clock'), h('span', t('login.point_followups')))))),
    h('main.login-main', { id: 'main' },
      h('div.login-top', languageSwitch(async (l) => {
        chosenLocale = l;
        typedEmail = email.value;
        await onLanguage(l);
      })),
      h('div.login-card',
        h('div.brand.login-card-brand', h('img', { src: '/img/logo.svg', alt: '', width: '32', height: '32' }), h('span.brand-name', 'contactlog')),
        h('h1', t('login.title')),
        h('p.muted', t('login.intro')),
        form),
      h('p.login-foot.muted', t('login.foot'))));
  email.value = typedEmail;
  // Focus the first field, unless the page is drawn again after the language switch.
  if (!chosenLocale) setTimeout(() => email.focus(), 0);
  return page;
}
