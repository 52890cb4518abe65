import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api/client';

/** Runs `load` now and every `intervalMs` while the tab is visible; re-runs when `deps` change. */
export function usePolling<T>(
  load: (signal: AbortSignal) => Promise<T>,
  intervalMs: number,
  deps: unknown[],
): { data: T | undefined; error: string | undefined; loading: boolean; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (document.visibilityState === 'hidden' && intervalMs > 0) {
        timer = setTimeout(run, intervalMs);
        return;
      }
      try {
        const value = await loadRef.current(ctrl.signal);
        if (ctrl.signal.aborted) return;
        setData(value);
        setError(undefined);
      } catch (e) {
        if (ctrl.signal.aborted) return;
        setError(errorText(e));
      } finally {
        if (!ctrl.signal.aborted) setLoading(false);
      }
      if (intervalMs > 0 && !ctrl.signal.aborted) timer = setTimeout(run, intervalMs);
    };
    void run();
    return () => {
      ctrl.abort();
      clearTimeout(timer);
    };
  }, [...deps, tick, intervalMs]);

  return { data, error, loading, reload: () => setTick((n) => n + 1) };
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  return (e as Error)?.message ?? String(e);
}

/** Re-renders every `ms` (for ages such as "5s ago"). */
export function useNow(ms = 5_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · agenthost` : 'agenthost console';
  }, [title]);
}
