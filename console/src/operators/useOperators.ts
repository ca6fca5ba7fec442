import type { PanelOperator } from '@dropops/protocol/panel';
import { useCallback, useEffect, useState } from 'react';
import { api } from '../lib/http.ts';

/** How often the operator list is read again, so connection state stays live. */
const REFRESH_MS = 2_000;

/** The organisation's operator slots, kept fresh while the component is shown. */
export function useOperators(): {
  operators: PanelOperator[] | null;
  problem: string | null;
  refresh: () => Promise<void>;
} {
  const [operators, setOperators] = useState<PanelOperator[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const refresh = useCallback(async () => {
    try {
      const { operators: list } = await api<{ operators: PanelOperator[] }>('GET', '/api/org/operators');
      setOperators(list);
      setProblem(null);
    } catch (err) {
      setProblem((err as Error).message);
    }
  }, []);
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [refresh]);
  return { operators, problem, refresh };
}
