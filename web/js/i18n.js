// i18n.js — the UI's words in German (default) and English, and dates,
// times and sizes in the language of the user (Intl).

export const LOCALES = ['de', 'en'];
const STORAGE_KEY = 'contactlog.locale';

let locale = 'de';
let dict = {};
let fallback = {};
const cache = new Map();

async function load(name) {
  if (!cache.has(name)) {
    const res = await fetch(`/i18n/${name}.json`, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`i18n/${name}.json: ${res.status}`);
    cache.set(name, await res.json());
  }
  return cache.get(name);
}

/** The language remembered in this browser (before login), else German. */
export function storedLocale() {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    if (LOCALES.includes(v)) return v;
  } catch {
    /* storage may be unavailable */
  }
  return 'de';
}

export function rememberLocale(name) {
  try {
    localStorage.setItem(STORAGE_KEY, name);
  } catch {
    /* ignore */
  }
}

export async function setLocale(name) {
  if (!LOCALES.includes(name)) name = 'de';
  fallback = await load('de');
  dict = await load(name);
  locale = name;
  document.documentElement.lang = name;
}

export function currentLocale() {
  return locale;
}

/** The BCP 47 tag for Intl: German as in Germany, English as the browser has it. */
export function intlLocale() {
  if (locale === 'de') return 'de-DE';
  const nav = (navigator.languages || [navigator.language || '']).find((l) => /^en\b/i.test(l));
  return nav || 'en-GB';
}

function lookup(table, key) {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

/** Is there a text for key? */
export function has(key) {
  return lookup(dict, key) !== undefined || lookup(fallback, key) !== undefined;
}

/** The text of key with {name} replaced from vars. */
export function t(key, vars) {
  let text = lookup(dict, key);
  if (text === undefined) text = lookup(fallback, key);
  if (text === undefined) {
    console.warn(`i18n: no text for "${key}"`);
    return key;
  }
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (m, name) =>
      Object.prototype.hasOwnProperty.call(vars, name) && vars[name] !== null && vars[name] !== undefined
        ? String(vars[name])
        : m);
  }
  return text;
}

/** Plural forms: key.one / key.other, with {n} formatted. */
export function tn(key, n, vars = {}) {
  const form = new Intl.PluralRules(intlLocale()).select(n);
  const k = lookup(dict, `${key}.${form}`) !== undefined || lookup(fallback, `${key}.${form}`) !== undefined
    ? `${key}.${form}` : `${key}.other`;
  return t(k, { ...vars, n: formatNumber(n) });
}

export function formatNumber(n) {
  return new Intl.NumberFormat(intlLocale()).format(n);
}

/** "4. Dez. 2026, 10:30" — an ISO time from the API in local time. */
export function formatDateTime(iso, opts = {}) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(intlLocale(), {
    dateStyle: opts.long ? 'full' : 'medium',
    timeStyle: 'short',
  }).format(d);
}

/** A calendar date "YYYY-MM-DD" (a follow-up), without any time zone shift. */
export function formatDate(ymd, opts = {}) {
  const d = parseDate(ymd);
  if (!d) return ymd || '';
  return new Intl.DateTimeFormat(intlLocale(), {
    dateStyle: opts.style || 'medium',
  }).format(d);
}

export function parseDate(ymd) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd || '');
  if (!m) return null;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

/** "heute", "morgen", "vor 3 Tagen" for a follow-up date. */
export function relativeDay(ymd) {
  const d = parseDate(ymd);
  if (!d) return '';
  const today = new Date();
  today.setHours(0, 0, 0, 0);
  const days = Math.round((d - today) / 86400000);
  return new Intl.RelativeTimeFormat(intlLocale(), { numeric: 'auto' }).format(days, 'day');
}

/** "vor 5 Minuten" for a recent time, else the date. */
export function relativeTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const seconds = Math.round((d.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  const rtf = new Intl.RelativeTimeFormat(intlLocale(), { numeric: 'auto' });
  if (abs < 60) return rtf.format(0, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour');
  if (abs < 7 * 86400) return rtf.format(Math.round(seconds / 86400), 'day');
  return formatDateTime(iso);
}

export function formatSize(bytes) {
  // Bytes with the plural of the language ("1 byte", "15 bytes"; German "15 Byte"):
  // Intl's short unit says "15 byte" in English.
  if (!(bytes >= 1024)) return tn('size.bytes', Math.max(0, Math.round(Number(bytes) || 0)));
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return new Intl.NumberFormat(intlLocale(), {
    style: 'unit',
    unit: units[i],
    unitDisplay: 'short',
    maximumFractionDigits: i === 0 ? 0 : 1,
  }).format(v);
}

/** Today as YYYY-MM-DD in local time. */
export function todayYmd(offsetDays = 0) {
  const d = new Date();
  d.setDate(d.getDate() + offsetDays);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** A local "YYYY-MM-DDTHH:MM" for <input type="datetime-local">. */
export function localDateTimeValue(d = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A list "A, B und C" in the user's language. */
export function formatList(items) {
  return new Intl.ListFormat(intlLocale(), { style: 'long', type: 'conjunction' }).format(items);
}
