/**
 * HTTP libraries over ntmobile without glue: OkHttp ({@link org.ntmobile.http.NTMOkHttp}), Apache
 * HttpClient 5 ({@link org.ntmobile.http.NTMHttpClient5}) and HttpCore 5's classic server
 * ({@link org.ntmobile.http.NTMHttpServer}). Host names are node names, resolved through the
 * node, never the system's DNS. The libraries are not dependencies of ntmobile (Maven scope
 * "provided"): add the ones you use (tested with OkHttp 4.12, HttpClient 5.4, HttpCore 5.3).
 */
package org.ntmobile.http;
