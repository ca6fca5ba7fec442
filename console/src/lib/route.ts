import { useEffect, useState } from 'react';

/** The console's pages; anything else shows the start page. */
export type Route =
  { page: 'home' } | { page: 'conversation'; id: string } | { page: 'operators' } | { page: 'audit' };

export function parseRoute(path: string): Route {
  const conversation = /^\/conversations\/([0-9a-f-]{36})$/.exec(path);
  if (conversation) return { page: 'conversation', id: conversation[1]! };
  if (path === '/operators') return { page: 'operators' };
  if (path === '/audit') return { page: 'audit' };
  return { page: 'home' };
}

const listeners = new Set<() => void>();

/** Moves to a page of the console without reloading it. */
export function navigate(path: string): void {
  history.pushState(null, '', path);
  for (const listener of listeners) listener();
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return route;
}
