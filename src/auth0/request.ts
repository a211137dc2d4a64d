/** The body of Auth0's POST /dbconnections/change_password, and Auth0's error shape. */

export interface ChangePasswordRequest {
  clientId: string;
  email: string;
  connection: string;
  organization?: string;
}

/** Answered as {"error", "error_description"} with the HTTP status. */
export interface Auth0Error {
  status: number;
  error: string;
  description: string;
}

export const auth0Error = (status: number, error: string, description: string): Auth0Error => ({ status, error, description });
const invalidRequest = (description: string) => auth0Error(400, "invalid_request", description);

/** JSON, or a form as HTML forms send it; the fields as named by Auth0. Other fields are ignored. */
export function parseChangePassword(contentType: string | undefined, body: string): ChangePasswordRequest | Auth0Error {
  let fields: unknown;
  if (contentType?.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    fields = Object.fromEntries(new URLSearchParams(body));
  } else {
    try {
      fields = JSON.parse(body);
    } catch {
      return invalidRequest("the request body is not valid JSON");
    }
  }
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) return invalidRequest("the request body must be a JSON object");
  const record = fields as Record<string, unknown>;
  // lock 9 and later send no password; setting one here is refused, as Auth0 does
  if ("password" in record) return invalidRequest("password is not allowed");

  const text = (name: string, required: boolean): string | undefined | Auth0Error => {
    const value = record[name];
    if (value === undefined || value === null || value === "") return required ? invalidRequest(`${name} is required`) : undefined;
    return typeof value === "string" ? value : invalidRequest(`${name} must be a string`);
  };
  const clientId = text("client_id", true);
  const email = text("email", true);
  const connection = text("connection", true);
  const organization = text("organization", false);
  for (const value of [clientId, email, connection, organization]) if (isError(value)) return value;
  return {
    clientId: clientId as string,
    email: (email as string).trim(),
    connection: connection as string,
    ...(organization !== undefined && { organization: organization as string }),
  };
}

export function isError(value: unknown): value is Auth0Error {
  return typeof value === "object" && value !== null && "error" in value && "status" in value;
}
