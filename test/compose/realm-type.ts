// Part of `npm run typecheck`: the realm file Keycloak imports must fit Keycloak's own RealmRepresentation.
// (A JSON import widens string literals, so test/compose/realm.test.ts also checks it as an object literal.)
import type RealmRepresentation from '@keycloak/keycloak-admin-client/lib/defs/realmRepresentation.js';
import realm from '../../compose/keycloak/dropops-realm.json' with { type: 'json' };

export const dropopsRealm = realm satisfies RealmRepresentation;
