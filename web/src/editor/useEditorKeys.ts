import { useEffect, useEffectEvent, type RefObject } from "react";

import { commandOf, isFormControl, type Command } from "./keyboard";

/** Run the editor's keyboard shortcuts for keys pressed inside `root`, or with focus nowhere
 * (as after the focused node was deleted); never for keys typed into a field or the
 * properties panel. `run` says whether it handled the command. */
export function useEditorKeys(root: RefObject<HTMLElement | null>, run: (command: Command) => boolean): void {
  const onKeyDown = useEffectEvent((event: KeyboardEvent) => {
    const target = event.target;
    const inEditor = target instanceof Node && root.current?.contains(target) === true;
    const nowhere = target === document.body || target === document.documentElement;
    if (event.defaultPrevented || !(inEditor || nowhere)) return;
    if (isFormControl(target) || (target instanceof Element && target.closest(".sg-properties") !== null)) return;
    const command = commandOf(event);
    if (command !== null && run(command)) event.preventDefault();
  });
  useEffect(() => {
    const listener = (event: KeyboardEvent) => {
      onKeyDown(event);
    };
    document.addEventListener("keydown", listener);
    return () => {
      document.removeEventListener("keydown", listener);
    };
  }, []);
}
