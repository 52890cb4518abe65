/**
 * The signed-in key: kept in sessionStorage only (gone when the tab closes,
 * never in localStorage or a cookie), and the API client made from it.
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { ApiClient } from '../api/client';

const STORAGE_KEY = 'agenthost.console.key';

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key) sessionStorage.setItem(STORAGE_KEY, key);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled: the key lives in memory for this page only.
  }
}

export const ClientContext = createContext<ApiClient | null>(null);

export function useClient(): ApiClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient outside a signed-in console');
  return client;
}
