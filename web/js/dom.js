// dom.js — building elements without HTML strings.
//
// Every text that comes from the server (names, subjects, mail text, file
// names) reaches the page as a text node or an attribute value, never as
// markup: there is no innerHTML anywhere in the UI.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Bidirectional embeddings and overrides (U+202A … U+202E) turn the text after them
// around ("Rechnung\u202Efdp.exe" shows as "Rechnungexe.pdf"); a subject or name from a
// mail never needs them, so shown text goes without them.
const BIDI_OVERRIDES = /[\u202A-\u202E]/g;

/** The text as shown: without bidirectional embeddings and overrides. */
export function shownText(value) {
  return String(value).replace(BIDI_OVERRIDES, '');
}

/**
 * h('a.link', {href: '/x', onclick: fn}, 'text', child, [more])
 * The tag may carry an id after '#' and classes after dots. Attributes: `class`, `text`,
 * `hidden`, `on<event>` (a function), boolean values (set or removed), the
 * rest as attributes. Children: nodes, strings (text nodes), arrays, null.
 */
export function h(tag, attrs, ...children) {
  const [head, ...classes] = tag.split('.');
  const [name, id] = head.split('#');
  const el = document.createElement(name || 'div');
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) {
      if (key !== 'class' && key !== 'text' && !key.startsWith('on')) el.removeAttribute(key);
      continue;
    }
    if (key === 'class') {
      el.classList.add(...String(value).split(/\s+/).filter(Boolean));
    } else if (key === 'text') {
      el.textContent = shownText(value);
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'value' && 'value' in el) {
      el.value = value;
    } else if (key === 'checked' || key === 'selected' || key === 'disabled' || key === 'multiple' || key === 'required') {
      el[key] = Boolean(value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(shownText(child)));
  }
  return el;
}

/** Replaces the children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** An icon of the sprite web/img/icons.svg (decorative unless a label is given). */
export function icon(name, { label, cls } = {}) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', 'icon' + (cls ? ' ' + cls : ''));
  svg.setAttribute('width', '20');
  svg.setAttribute('height', '20');
  svg.setAttribute('focusable', 'false');
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else {
    svg.setAttribute('aria-hidden', 'true');
  }
  const use = document.createElementNS(SVG_NS, 'use');
  use.setAttribute('href', `/img/icons.svg#i-${name}`);
  svg.append(use);
  return svg;
}

let uid = 0;
/** A unique id for labels and ARIA references. */
export function newId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A visually hidden text for screen readers. */
export function srOnly(text) {
  return h('span.visually-hidden', text);
}
