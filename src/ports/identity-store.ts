/** A service connection: what an id token for `tokens:` is minted for (the cloud side's audience). */
export interface ServiceConnection {
  scope: 'repo' | 'org';
  /** The repository's or organization's id. */
  scopeId: string;
  name: string;
  audience: string;
  serviceAccountId?: string;
  folderId?: string;
  createdAt: number;
  updatedAt: number;
}

/** One generation of the OIDC signing key; the private half is encrypted like secrets. */
export interface SigningKeyRecord {
  generation: number;
  kid: string;
  alg: string;
  /** The public JWK, as served in the JWKS (JSON). */
  publicJwk: string;
  privateEnc: string;
  createdAt: number;
}

/**
 * Service connections and the OIDC signing keys, shared by every replica through the database.
 *
 * Contract: `insertSigningKey` adds a generation only if no key of that generation exists and
 * returns whether it did, so replicas rotating at the same moment agree on one new key.
 */
export interface IdentityStore {
  putConnection(connection: ServiceConnection): Promise<ServiceConnection>;
  getConnection(
    scope: ServiceConnection['scope'],
    scopeId: string,
    name: string,
  ): Promise<ServiceConnection | undefined>;
  listConnections(scope: ServiceConnection['scope'], scopeId: string): Promise<ServiceConnection[]>;
  deleteConnection(scope: ServiceConnection['scope'], scopeId: string, name: string): Promise<boolean>;
  /** Every stored key, newest generation first. */
  signingKeys(): Promise<SigningKeyRecord[]>;
  insertSigningKey(key: SigningKeyRecord): Promise<boolean>;
  /** Removes generations below `generation` (their tokens have expired). */
  deleteSigningKeysBefore(generation: number): Promise<void>;
}
