import { signal } from '@preact/signals';

/** The current location under /ui/ (path and query); pages read it, links and navigate() move it. */
export const location = signal({
  path: window.location.pathname,
  query: window.location.search,
  hash: window.location.hash,
});

function sync(): void {
  location.value = {
    path: window.location.pathname,
    query: window.location.search,
    hash: window.location.hash,
  };
}

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  sync();
  if (!to.includes('#')) window.scrollTo(0, 0);
}

/** Same-origin links under /ui/ change the page without a reload (modifier keys open tabs as usual). */
export function installRouter(): void {
  window.addEventListener('popstate', sync);
  window.addEventListener('hashchange', sync);
  document.addEventListener('click', (event) => {
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    )
      return;
    const a = (event.target as Element | null)?.closest('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const href = a.getAttribute('href') ?? (a.getAttribute('xlink:href') || '');
    if (!href.startsWith('/ui/')) return;
    event.preventDefault();
    navigate(href);
  });
}

export function queryParam(name: string): string {
  return new URLSearchParams(location.value.query).get(name) ?? '';
}
