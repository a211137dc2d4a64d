/** Writes openapi/openapi.json, the document GET /openapi.json serves. Run by `npm run generate`. */
import fs from "node:fs";
import { UserService } from "../gen/zitadel/user/v2/user_service_pb.js";
import { UserService as UserServiceV2beta } from "../gen/zitadel/user/v2beta/user_service_pb.js";
import { openApiDocument } from "../src/server/gateway/openapi.js";

// the services with REST routes, in the server's order; test/openapi.unit.test.ts checks the server serves the same
const document = openApiDocument([UserService, UserServiceV2beta]);
const file = new URL("../openapi/openapi.json", import.meta.url);
fs.mkdirSync(new URL(".", file), { recursive: true });
fs.writeFileSync(file, JSON.stringify(document, null, 2) + "\n");
