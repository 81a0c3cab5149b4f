/**
 * ntmobile for Java: stable virtual IPv4/IPv6 addresses for this process, and java.net sockets
 * that use them.
 *
 * <p>Start the process's node with {@link org.ntmobile.NTMNode#start} and
 * {@link org.ntmobile.NodeOptions}; then {@link org.ntmobile.NTMSocket} (a
 * {@link java.net.Socket}), {@link org.ntmobile.NTMServerSocket} (a
 * {@link java.net.ServerSocket}), {@link org.ntmobile.NTMDatagramSocket} (a
 * {@link java.net.DatagramSocket}) and the factories {@link org.ntmobile.NTMSocketFactory} /
 * {@link org.ntmobile.NTMServerSocketFactory} carry traffic between virtual addresses.
 *
 * <p>The native library libntm is bundled in the jar; the system property
 * {@code ntm.library.path} or the environment variable {@code NTM_LIBRARY} (a file, or a folder
 * holding libntm.so) load another one instead.
 */
package org.ntmobile;
