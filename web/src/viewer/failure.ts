/** Why a viewer cannot show its model, said as a clause for its alert ("the server answered
 * 404", "the file is not a GLB model"). */
export class ViewerFailure extends Error {
  constructor(reason: string, options?: ErrorOptions) {
    super(reason, options);
    this.name = "ViewerFailure";
  }
}

/** The clause for any error met while loading: a ViewerFailure's own, else a plain one. */
export function reasonOf(error: unknown): string {
  if (error instanceof ViewerFailure) return error.message;
  if (error instanceof Error && error.message !== "") return error.message;
  return "something unexpected went wrong";
}
