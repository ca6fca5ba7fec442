import type { SessionView } from '@dropops/protocol/session';
import { createContext, useContext } from 'react';

export const SessionContext = createContext<SessionView | null>(null);

/** The signed-in person; the app renders nothing below the shell until the session is known. */
export function useSession(): SessionView {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession() outside the signed-in app');
  return session;
}

export const mayApprove = (session: SessionView) =>
  session.roles.includes('approver') || session.roles.includes('admin');
export const isAdmin = (session: SessionView) => session.roles.includes('admin');
