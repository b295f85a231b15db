/**
 * A small element builder. Text from bundles, documents and links is attacker-controlled: it only
 * ever becomes text nodes (never HTML), and the Content-Security-Policy forbids any other script.
 */

type Child = Node | string | null | undefined | false;

/** An element with attributes (strings; `true` for a bare attribute) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

/** A hex value in monospace, broken anywhere, selectable whole. */
export function hex(value: string, title?: string): HTMLElement {
  return h('code', { class: 'hex', title }, value);
}

/** A button that copies `value` to the clipboard. */
export function copyButton(value: string, label: string): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'copy', 'aria-label': label }, 'Copy');
  b.addEventListener('click', () => {
    void navigator.clipboard.writeText(value).then(
      () => {
        b.textContent = 'Copied';
        setTimeout(() => (b.textContent = 'Copy'), 1500);
      },
      () => {
        b.textContent = 'Select and copy';
      },
    );
  });
  return b;
}

/** A definition list of label/value rows. */
export function facts(rows: [string, Child | Child[]][]): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, ...(Array.isArray(v) ? v : [v]))]),
  );
}

/** The SIMULATED mark, on every part of a simulated result. */
export function simulatedMark(): HTMLElement {
  return h(
    'span',
    { class: 'sim', title: 'Made by the software simulator, not by AWS Nitro hardware' },
    'SIMULATED',
  );
}
