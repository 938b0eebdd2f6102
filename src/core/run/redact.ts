/**
 * A clone URL as readers and cubes see it (D11): a user name and password or token in it
 * (`https://user:token@host/...`) are the server's credentials for fetching, never shown.
 */
export function withoutCredentials(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@]*@/, '$1***@');
}
