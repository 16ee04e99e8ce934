/** The signed-in operator, shared through context: pages ask `useIsAdmin()` to render writes. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { CurrentOperator } from "./types";

export const SessionContext = createContext<CurrentOperator | null>(null);

/** Whether write controls may exist in the DOM (viewers get none; the API refuses anyway). */
export function useIsAdmin(): boolean {
  return useContext(SessionContext)?.role === "admin";
}
