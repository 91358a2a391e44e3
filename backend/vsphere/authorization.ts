// AuthorizationManager: what the session's own user may do, per entity and privilege
// (HasPrivilegeOnEntities for the session's own key, which needs no privilege beyond reading the
// entities), and a user's privilege list per entity (FetchUserPrivilegeOnEntities).
import type { VimClient } from './client.ts';
import type { Session } from './session.ts';
import type { MoRef } from './types.ts';

export interface EntityPrivileges {
  entity: MoRef;
  /** privilege id -> granted */
  granted: Map<string, boolean>;
}

type WireEntityPrivilege = { entity: MoRef; privAvailability?: { privId: string; isGranted: boolean }[] };
type WireUserPrivilegeResult = { entity: MoRef; privileges?: string[] };

export class Authorization {
  readonly client: VimClient;
  readonly session: Session;

  constructor(client: VimClient, session: Session) {
    this.client = client;
    this.session = session;
  }

  get manager(): MoRef {
    const m = this.client.serviceContent.authorizationManager;
    if (!m) throw new Error('this endpoint has no AuthorizationManager');
    return m;
  }

  /**
   * Which of `privIds` this session's user holds on each entity (vCenter applies the user's roles,
   * group memberships and propagation). Entities are answered in the order given.
   */
  async hasPrivilegeOnEntities(entities: MoRef[], privIds: string[]): Promise<EntityPrivileges[]> {
    if (!entities.length || !privIds.length) return entities.map((entity) => ({ entity, granted: new Map() }));
    const key = (await this.session.currentSession())?.key;
    if (!key) throw new Error('no current session to check privileges for');
    const res = (await this.client.call<WireEntityPrivilege[] | undefined>('HasPrivilegeOnEntities', {
      _this: this.manager, entity: entities, sessionId: key, privId: privIds,
    })) ?? [];
    return entities.map((entity) => {
      const r = res.find((x) => x.entity.type === entity.type && x.entity.value === entity.value);
      return { entity, granted: new Map((r?.privAvailability ?? []).map((a) => [a.privId, a.isGranted === true])) };
    });
  }

  /** The privileges `userName` holds on each entity (needs the right to read permissions on vCenter). */
  async fetchUserPrivilegeOnEntities(entities: MoRef[], userName: string): Promise<{ entity: MoRef; privileges: string[] }[]> {
    const res = (await this.client.call<WireUserPrivilegeResult[] | undefined>('FetchUserPrivilegeOnEntities', {
      _this: this.manager, entities, userName,
    })) ?? [];
    return res.map((r) => ({ entity: r.entity, privileges: r.privileges ?? [] }));
  }
}
