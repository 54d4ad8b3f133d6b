/**
 * CloudFormation's side door into the worker: the CDK provider framework invokes it with a
 * custom-resource event of type `Custom::VpcMigrateReaderRole` on every deployment (see
 * infra/migration-worker.ts). Create and Update run the `setup` action; Delete leaves the role in
 * place (a rolled-back stack must not take read-only run-sql away). Unlike every other action it
 * throws on failure: the framework then fails the deployment, with this message.
 */
import { READER_ROLE_RESOURCE_TYPE, type SetupResult } from './contract/index.js';

export interface ReaderRoleResourceEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  ResourceType: typeof READER_ROLE_RESOURCE_TYPE;
  PhysicalResourceId?: string;
}

export interface CustomResourceResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

const PHYSICAL_ID = 'vpc-migrate-reader-role';

export function isReaderRoleResourceEvent(raw: unknown): raw is ReaderRoleResourceEvent {
  const e = raw as Partial<ReaderRoleResourceEvent> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    e.ResourceType === READER_ROLE_RESOURCE_TYPE &&
    ['Create', 'Update', 'Delete'].includes(e.RequestType as string)
  );
}

export async function handleReaderRoleResource(
  event: ReaderRoleResourceEvent,
  setup: () => Promise<SetupResult>,
): Promise<CustomResourceResponse> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId ?? PHYSICAL_ID };
  const result = await setup();
  return {
    PhysicalResourceId: PHYSICAL_ID,
    Data: {
      ReaderRole: result.readerRole,
      LoginRole: result.loginRole,
      Reads: result.reads,
      Created: String(result.created),
    },
  };
}
