/**
 * Data hooks: `useLoad` (one request, reloadable) and `usePaged` (cursor pagination with a stack
 * of earlier cursors for "Previous"). Both drop answers of superseded requests.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiFailure } from "./api";
import type { List } from "./types";

export interface Loaded<T> {
  data: T | null;
  error: ApiFailure | null;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(fetcher: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiFailure | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    fetcher().then(
      (data) => mine === seq.current && setState({ data, error: null, loading: false }),
      (e: unknown) => mine === seq.current && setState({ data: null, error: asFailure(e), loading: false }),
    );
    // eslint-style exhaustive deps are the caller's: `deps` lists what the fetcher reads.
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

export function asFailure(e: unknown): ApiFailure {
  return e instanceof ApiFailure ? e : new ApiFailure(0, "client_error", String(e), null);
}

export interface Paged<T> extends Loaded<List<T>> {
  hasPrev: boolean;
  hasNext: boolean;
  next: () => void;
  prev: () => void;
}

/** Pages through a list; `deps` changing (e.g. filters) starts again at the first page. */
export function usePaged<T>(fetch: (cursor: string | null) => Promise<List<T>>, deps: readonly unknown[]): Paged<T> {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  const key = JSON.stringify(deps);
  const [lastKey, setLastKey] = useState(key);
  if (key !== lastKey) {
    setLastKey(key);
    setStack([null]);
  }
  const cursor = key === lastKey ? stack[stack.length - 1] ?? null : null;
  const loaded = useLoad(() => fetch(cursor), [key, cursor, stack.length]);
  const nextCursor = loaded.data?.next_cursor ?? null;
  return {
    ...loaded,
    hasPrev: stack.length > 1,
    hasNext: nextCursor !== null,
    next: () => nextCursor !== null && setStack((s) => [...s, nextCursor]),
    prev: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
  };
}
