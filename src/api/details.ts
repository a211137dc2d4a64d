import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DetailsSchema, type Details } from "../../gen/zitadel/object/v2/object_pb.js";
import type { ObjectDetails } from "../command/details.js";

export function toDetails(details: ObjectDetails): Details {
  return create(DetailsSchema, {
    sequence: BigInt(details.sequence),
    changeDate: timestampFromDate(details.changeDate),
    resourceOwner: details.resourceOwner,
    creationDate: timestampFromDate(details.creationDate),
  });
}
