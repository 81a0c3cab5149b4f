/*
 * ntm.h - the ntmobile C API.
 *
 * ntmobile gives an application stable virtual IPv4 and IPv6 addresses that survive changes of
 * the real network. Inside the process runs a virtual TCP/IP stack (lwIP) that owns those
 * addresses; its packets travel encrypted and authenticated in UDP between the nodes' real
 * addresses. One process is one node.
 *
 * Conventions (see docs/api-stability.md):
 * - Socket calls (ntm_socket ... ntm_poll) mirror BSD sockets: same arguments, the host's own
 *   constants (AF_INET, SOCK_STREAM, SOL_SOCKET, MSG_*, POLLIN ...), -1 and the calling thread's
 *   errno on failure. Porting code is renaming calls. ntm descriptors are not OS descriptors.
 * - Every other call returns 0 (NTM_OK) or a negative NTM_E* code and leaves a message for the
 *   calling thread in ntm_last_error().
 * - Options structs are versioned: call the matching *_init() before filling them in.
 * - Strings passed in are copied; strings and arrays handed out are either owned by a struct you
 *   passed in (fixed-size arrays) or freed with the matching *_free() function.
 * - Calls marked "Blocks" may wait on the network: bindings release their interpreter lock.
 *
 * This header compiles as C99 with -pedantic. It needs POSIX declarations (struct addrinfo):
 * define _POSIX_C_SOURCE >= 200112L (or _GNU_SOURCE/_DEFAULT_SOURCE) before including it in
 * strict-ISO builds.
 */
#ifndef NTM_H
#define NTM_H

#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks the functions the shared library exports (all others are hidden). */
#if defined(_WIN32)
#define NTM_EXTERN(type) __declspec(dllexport) type
#else
#define NTM_EXTERN(type) __attribute__((visibility("default"))) type
#endif

/* ------------------------------------------------------------------------------------------ */
/* Version                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** Major version of this header. A library with another major version is not compatible. */
#define NTM_VERSION_MAJOR 0
/** Minor version of this header: grows when functions or struct fields are added. */
#define NTM_VERSION_MINOR 3
/** Patch version of this header. */
#define NTM_VERSION_PATCH 0

/**
 * The library's version as "MAJOR.MINOR.PATCH". Compare it with NTM_VERSION_* to detect a
 * header/library mismatch at run time. The string is static; never free it.
 */
NTM_EXTERN(const char *) ntm_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/** Result codes of the non-socket calls: 0 for success, negative for errors. */
typedef enum ntm_error_code {
  NTM_OK = 0,               /**< Success. */
  NTM_ERROR = -1,           /**< An error that fits no other code; see ntm_last_error(). */
  NTM_EINVAL = -2,          /**< An argument or option is invalid (the message names it). */
  NTM_ESTATE = -3,          /**< Not allowed now (e.g. start while running, info while stopped). */
  NTM_ENOMEM = -4,          /**< Out of memory. */
  NTM_EIO = -5,             /**< An operating-system call failed (e.g. binding the UDP port). */
  NTM_ENOTFOUND = -6,       /**< The name, peer or item does not exist. */
  NTM_EVERSION = -7,        /**< A struct's version is not one this library knows. */
  NTM_EBUFS = -8,           /**< A buffer the caller passed is too small. */
  NTM_EUNSUPPORTED = -9,    /**< Not supported by this build or platform. */
  NTM_EAUTH = -10,          /**< The Account Server refused the credentials (or the account is
                                 disabled); ntm_last_error() says which. */
  NTM_EUNREACHABLE = -11    /**< A server (AS, DC) could not be reached or did not answer. */
} ntm_error_code;

/**
 * The message describing the last failure of a non-socket ntm call on the calling thread, or ""
 * when there was none. The string stays valid until the thread's next ntm call; never free it.
 */
NTM_EXTERN(const char *) ntm_last_error(void);

/** A static, human-readable name for an ntm_error_code (e.g. "invalid argument"). */
NTM_EXTERN(const char *) ntm_strerror(int code);

/* ------------------------------------------------------------------------------------------ */
/* Keys                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/** Size of a key in text form: 44 base64 characters for 32 bytes, plus the terminating NUL. */
#define NTM_KEY_TEXT_SIZE 45

/**
 * Creates a new X25519 static key pair, written as base64 text. A node's private key is its
 * identity in static-peer mode; give its public key to its peers.
 * @return NTM_OK, or NTM_EINVAL if a pointer is NULL.
 */
NTM_EXTERN(int) ntm_keypair_generate(char private_key[NTM_KEY_TEXT_SIZE],
                                     char public_key[NTM_KEY_TEXT_SIZE]);

/**
 * Computes the public key that belongs to a base64 private key.
 * @return NTM_OK, or NTM_EINVAL if the private key is not 32 bytes of base64.
 */
NTM_EXTERN(int) ntm_public_key_from_private(const char *private_key,
                                            char public_key[NTM_KEY_TEXT_SIZE]);

/* ------------------------------------------------------------------------------------------ */
/* Node options                                                                                */
/* ------------------------------------------------------------------------------------------ */

/** The AEAD that seals tunnel packets. Both ends use the initiator's choice. */
typedef enum ntm_cipher {
  NTM_CIPHER_AES_256_GCM = 1,       /**< Default; fastest where the CPU has AES instructions. */
  NTM_CIPHER_CHACHA20_POLY1305 = 2  /**< For CPUs without AES instructions. */
} ntm_cipher;

/** How much the library logs to stderr. The default is NTM_LOG_WARN. */
typedef enum ntm_log_level {
  NTM_LOG_OFF = 0,   /**< Nothing. */
  NTM_LOG_ERROR = 1, /**< Failures only. */
  NTM_LOG_WARN = 2,  /**< Failures and suspicious input. */
  NTM_LOG_INFO = 3,  /**< Also tunnel and path changes. */
  NTM_LOG_DEBUG = 4  /**< Also every handshake and timer; never secrets. */
} ntm_log_level;

/** Version of ntm_static_peer this header describes. */
#define NTM_STATIC_PEER_VERSION 1

/**
 * A peer known in advance (static-peer mode: no servers needed). All strings are copied by
 * ntm_start().
 */
typedef struct ntm_static_peer {
  unsigned int version;     /**< NTM_STATIC_PEER_VERSION; set by ntm_static_peer_init(). */
  const char *name;         /**< The peer's name (e.g. "bob.example"), for ntm_getaddrinfo(). */
  const char *public_key;   /**< The peer's X25519 public key, base64. Required. */
  const char *endpoint;     /**< Its real UDP address, "192.0.2.1:4500", "[2001:db8::1]:4500" or
                                 "bob.example.net:4500" (a host name is resolved by ntm_start(),
                                 first address); NULL if only the peer starts tunnels (we learn
                                 its address). */
  const char *virtual_ipv4; /**< Its virtual IPv4 address, e.g. "100.64.0.2"; NULL for none. */
  const char *virtual_ipv6; /**< Its virtual IPv6 address, e.g. "fd00:6e74:6d::2"; NULL for none. */
} ntm_static_peer;

/**
 * Fills a peer struct with defaults (all NULL) for the given version.
 * @return NTM_OK, NTM_EINVAL for NULL, NTM_EVERSION for an unknown version.
 */
NTM_EXTERN(int) ntm_static_peer_init(ntm_static_peer *peer, unsigned int version);

/** Kinds of event delivered to an ntm_event_cb. */
typedef enum ntm_event_type {
  NTM_EVENT_STARTED = 1,      /**< The node is up; its virtual addresses are usable. */
  NTM_EVENT_STOPPING = 2,     /**< ntm_stop() began; the last event of a run. */
  NTM_EVENT_TUNNEL_UP = 3,    /**< A tunnel to a peer completed its handshake. */
  NTM_EVENT_TUNNEL_DOWN = 4,  /**< A tunnel expired or failed. */
  NTM_EVENT_PATH_CHANGED = 5, /**< A peer's real endpoint (or direct/relay path) changed. */
  NTM_EVENT_REGISTERED = 6,   /**< Control-plane mode: registered with the DC (again). */
  NTM_EVENT_PEER_REVOKED = 7, /**< A peer's account was disabled or deleted: its tunnel was torn
                                   down and it can no longer reach this node (peer_name says
                                   which). */
  NTM_EVENT_REVOKED = 8,      /**< Control-plane mode: this node's own account was disabled or
                                   deleted, or its password changed; the node stopped registering
                                   and its tunnels are gone. message says why. Stop the node. */
  NTM_EVENT_SERVER_UNREACHABLE = 9 /**< Control-plane mode: the DC stopped answering. The node
                                   keeps retrying; NTM_EVENT_REGISTERED follows when it is back. */
} ntm_event_type;

/** How a tunnel reaches its peer. */
typedef enum ntm_path_kind {
  NTM_PATH_NONE = 0,   /**< No path yet. */
  NTM_PATH_DIRECT = 1, /**< End to end, straight to the peer's real (or NAT) address. */
  NTM_PATH_RELAY = 2   /**< Through a Relay Server. */
} ntm_path_kind;

/** One event. Pointers are valid only during the callback; copy what you keep. */
typedef struct ntm_event {
  ntm_event_type type;      /**< What happened. */
  const char *peer_name;    /**< The peer concerned, or "" for node events. */
  const char *peer_node_id; /**< The peer's NodeID in hex, or "". */
  const char *endpoint;     /**< The peer's real endpoint now, or "". */
  ntm_path_kind path;       /**< The path now (tunnel events). */
  const char *message;      /**< A human-readable description. */
} ntm_event;

/**
 * Receives events. Called on one dedicated library thread, in the order events happened,
 * never concurrently with itself. It must not block for long and must not call ntm_stop().
 */
typedef void (*ntm_event_cb)(const ntm_event *event, void *user_data);

/**
 * Version of ntm_options this header describes. Version 1 is static-peer mode only; version 2
 * appends the control-plane fields (server ... direct_timeout_ms); version 3 appends limits,
 * timers and the local control API (memory_limit ... control_socket). The library accepts all
 * three.
 */
#define NTM_OPTIONS_VERSION 3

/**
 * How to start a node. Fill with ntm_options_init(), then set what you need.
 *
 * Two modes:
 * - static-peer mode (server == NULL): name, private_key and a virtual address are required;
 *   peers are listed in `peers`. No servers are involved.
 * - control-plane mode (server set): the node logs in to the Account Server with account and
 *   password, which gives it its name; the Direction Coordinator gives it its virtual addresses
 *   and finds peers by name (ntm_getaddrinfo). name and the virtual addresses must then be NULL;
 *   private_key is optional (see state_dir). Static peers may still be listed.
 */
typedef struct ntm_options {
  unsigned int version;        /**< NTM_OPTIONS_VERSION; set by ntm_options_init(). */
  const char *name;            /**< This node's name (FQDN), e.g. "alice.example" (static-peer
                                    mode; in control-plane mode the AS assigns it). */
  const char *private_key;     /**< This node's X25519 private key, base64. Required in
                                    static-peer mode; in control-plane mode NULL means: load it
                                    from state_dir, or make one (kept there if state_dir is set). */
  const char *virtual_ipv4;    /**< This node's virtual IPv4 address; NULL for none. */
  const char *virtual_ipv6;    /**< This node's virtual IPv6 address; NULL for none. In
                                    static-peer mode at least one of the two is required. */
  const char *listen_ipv4;     /**< Real UDP address to bind for IPv4, default "0.0.0.0:0"
                                    (any port); "" disables IPv4. */
  const char *listen_ipv6;     /**< Real UDP address to bind for IPv6, default "[::]:0";
                                    "" disables IPv6. */
  const ntm_static_peer *peers; /**< Peers known in advance; may be NULL if peer_count is 0. */
  size_t peer_count;           /**< Number of entries in peers. */
  ntm_cipher cipher;           /**< Tunnel AEAD; default NTM_CIPHER_AES_256_GCM. */
  unsigned int mtu;            /**< Virtual MTU; 0 for the default 1420 (fits 1500-byte paths). */
  unsigned int idle_timeout_ms; /**< Idle tunnels older than this are dropped (and rebuilt on
                                    demand); 0 for the default 180000. It also bounds the grace
                                    period when the host loses every address: the tunnel keeps
                                    its peer and retries its path update until an address
                                    returns (tested with 2 s offline); TCP sessions on virtual
                                    addresses last as long as TCP keeps retransmitting. */
  ntm_log_level log_level;     /**< Logging to stderr; default NTM_LOG_WARN. */
  ntm_event_cb event_cb;       /**< Optional event handler. */
  void *event_user_data;       /**< Passed to event_cb unchanged. */
  /* ---- version 2: control plane ---- */
  const char *server;          /**< The Account Server, "192.0.2.1:7800", "[2001:db8::1]:7800" or
                                    "as.example.net:7800" (a host name is resolved by ntm_start();
                                    its first address is used); NULL for static-peer mode. */
  const char *server_certificate; /**< The AS's TLS certificate to trust (pinned): PEM text, or
                                    the path of a PEM file. Required with server. */
  const char *account;         /**< Account name at the AS. Required with server. */
  const char *password;        /**< The account's password or one-time enrollment token. */
  const char *state_dir;       /**< Directory where the node keeps its key (node.key) across
                                    restarts; NULL to keep nothing on disk. */
  unsigned int direct_timeout_ms; /**< How long hole punching may take before the tunnel falls
                                    back to a Relay Server; 0 for the default 1000. */
  /* ---- version 3: limits, timers, the local control API ---- */
  size_t memory_limit;         /**< The node's memory budget in bytes: socket buffers, queued
                                    packets and connection state. Near it, receive windows shrink;
                                    at it, inbound data waits, incoming connections are refused
                                    and ntm_socket() fails with ENOBUFS. 0 for the default
                                    256 MiB. */
  unsigned int max_sockets;    /**< Size of the socket table: ntm descriptors open at once
                                    (listeners and accepted connections included). Beyond it
                                    ntm_socket() and ntm_accept() fail with EMFILE. 0 for the
                                    default 16384. */
  unsigned int max_connections_per_peer; /**< TCP connections one peer (one of its virtual
                                    addresses) may hold open with this node at once; its further
                                    connection attempts are refused (the peer sees
                                    ECONNREFUSED). 0 for the default 1024. */
  size_t max_socket_buffer;    /**< Upper bound of a TCP socket's send and receive buffers,
                                    which grow with the path's bandwidth-delay product
                                    (SO_SNDBUF/SO_RCVBUF set a fixed size instead). 0 for the
                                    default 16 MiB. */
  unsigned int keepalive_interval_ms; /**< Interval of keepalives on idle tunnels, which keep
                                    NAT mappings open. Raise it to save battery where NATs keep
                                    mappings longer. 0 for the default 25000. */
  unsigned int start_timeout_ms; /**< Control-plane mode: how long ntm_start() keeps retrying an
                                    AS or DC that is busy or does not answer (jittered backoff)
                                    before it fails with NTM_EUNREACHABLE. A refused login fails
                                    at once. 0 for the default 30000. */
  const char *control_socket;  /**< Path of a Unix socket on which the node serves its local
                                    control API (JSON: info, tunnels, stats, recent events) to
                                    the same user (mode 0600), as `ntm status` reads it; NULL for
                                    none. */
} ntm_options;

/**
 * Fills an options struct with defaults for the given version.
 * @return NTM_OK, NTM_EINVAL for NULL, NTM_EVERSION for an unknown version.
 */
NTM_EXTERN(int) ntm_options_init(ntm_options *options, unsigned int version);

/* ------------------------------------------------------------------------------------------ */
/* Node lifecycle and state                                                                    */
/* ------------------------------------------------------------------------------------------ */

/**
 * Starts this process's node: binds the UDP sockets, brings up the virtual interface with the
 * virtual addresses and loads the peers. Returns once the node is usable. A process runs one
 * node at a time; after ntm_stop() it may start again, with other options.
 * In control-plane mode it first logs in to the AS and registers with the DC (each step bounded
 * by 5 seconds). Blocks.
 * @return NTM_OK; NTM_EINVAL naming a bad option; NTM_ESTATE if already running; NTM_EIO if a
 *         UDP address cannot be bound or the state directory cannot be used; NTM_EAUTH if the
 *         AS refuses the account (wrong password, unknown account, disabled); NTM_EUNREACHABLE
 *         if the AS or DC cannot be reached or the AS certificate is not the pinned one.
 */
NTM_EXTERN(int) ntm_start(const ntm_options *options);

/**
 * Stops the node. First it gives connections the application already closed up to 2 seconds
 * to deliver their last bytes (lwIP, like the kernel, keeps sending after close); then it closes
 * every ntm socket (calls blocked on them return -1 with EBADF), tears down the tunnels and
 * releases the UDP sockets. Blocks until done (at most about 2 seconds).
 * @return NTM_OK, or NTM_ESTATE if not running (or called from the event callback).
 */
NTM_EXTERN(int) ntm_stop(void);

/** 1 if the node is running, else 0. */
NTM_EXTERN(int) ntm_is_running(void);

/**
 * Tells the node that the host's network changed (new Wi-Fi, LTE, an address came or went), for
 * platforms where the application hears it first. On Linux the node also watches netlink
 * itself. The node then sends an authenticated path update to each peer from its new address,
 * registers again with the DC, asks the DC to direct a new path (or a relay) to peers that do not
 * answer, and makes TCP connections retransmit at once. Sessions on virtual addresses survive.
 * Returns at once.
 * @return NTM_OK, or NTM_ESTATE if no node is running.
 */
NTM_EXTERN(int) ntm_notify_network_change(void);

/** Version of ntm_node_info this header describes. */
#define NTM_NODE_INFO_VERSION 1

/** This node's identity and addresses (fixed-size strings, NUL-terminated, "" when absent). */
typedef struct ntm_node_info {
  unsigned int version;    /**< Set to NTM_NODE_INFO_VERSION before calling. */
  char node_id[17];        /**< NodeID, 16 hex digits. */
  char name[256];          /**< FQDN. */
  char public_key[NTM_KEY_TEXT_SIZE]; /**< X25519 public key, base64. */
  char virtual_ipv4[16];   /**< Virtual IPv4 address. */
  char virtual_ipv6[46];   /**< Virtual IPv6 address. */
  char endpoint_ipv4[64];  /**< Bound real UDP endpoint for IPv4, e.g. "0.0.0.0:41234". */
  char endpoint_ipv6[64];  /**< Bound real UDP endpoint for IPv6, e.g. "[::]:41234". */
  unsigned int mtu;        /**< Virtual MTU. */
} ntm_node_info;

/**
 * Describes the running node.
 * @return NTM_OK, NTM_EINVAL for NULL, NTM_EVERSION, NTM_ESTATE if not running.
 */
NTM_EXTERN(int) ntm_get_node_info(ntm_node_info *info);

/** Lifecycle of a tunnel. */
typedef enum ntm_tunnel_state {
  NTM_TUNNEL_IDLE = 0,      /**< Known peer, no session yet. */
  NTM_TUNNEL_HANDSHAKE = 1, /**< Handshake in progress. */
  NTM_TUNNEL_UP = 2         /**< Session keys established; packets flow. */
} ntm_tunnel_state;

/** One row of the tunnel table (fixed-size strings, NUL-terminated, "" when absent). */
typedef struct ntm_tunnel_info {
  char peer_name[256];        /**< Peer FQDN. */
  char peer_node_id[17];      /**< Peer NodeID, 16 hex digits. */
  char virtual_ipv4[16];      /**< Peer virtual IPv4. */
  char virtual_ipv6[46];      /**< Peer virtual IPv6. */
  ntm_tunnel_state state;     /**< Session state. */
  ntm_path_kind path;         /**< Direct or relayed. */
  char endpoint[64];          /**< Peer real endpoint packets go to now. */
  uint32_t local_path_id;     /**< Our PathID for the current session (0 if none). */
  uint64_t bytes_sent;        /**< Inner bytes sent to this peer. */
  uint64_t bytes_received;    /**< Inner bytes received from this peer. */
  uint64_t packets_sent;      /**< Inner packets sent. */
  uint64_t packets_received;  /**< Inner packets received. */
  int64_t last_activity_ms;   /**< Milliseconds since the last packet either way; -1 if never. */
  int64_t session_age_ms;     /**< Milliseconds since the current session's handshake; -1. */
  int64_t rtt_us;             /**< Smoothed round-trip time of the tunnel in microseconds,
                                   measured from handshakes and keepalives; -1 if unknown. */
  unsigned int path_mtu;      /**< Largest inner packet known to reach the peer on the current
                                   path, in bytes; 0 while not yet measured. */
} ntm_tunnel_info;

/**
 * Copies the tunnel table. On success *tunnels is an array of *count rows (NULL when 0) that the
 * caller frees with ntm_tunnels_free().
 * @return NTM_OK, NTM_EINVAL for NULL, NTM_ESTATE if not running, NTM_ENOMEM.
 */
NTM_EXTERN(int) ntm_tunnels_snapshot(ntm_tunnel_info **tunnels, size_t *count);

/** Frees an array from ntm_tunnels_snapshot(). NULL is allowed. */
NTM_EXTERN(void) ntm_tunnels_free(ntm_tunnel_info *tunnels);

/**
 * Version of ntm_stats this header describes. Version 2 appends dropped_spoofed ...
 * memory_used; the library fills version 1 structs too.
 */
#define NTM_STATS_VERSION 2

/** Node-wide counters since ntm_start(). */
typedef struct ntm_stats {
  unsigned int version;            /**< Set to NTM_STATS_VERSION before calling. */
  uint64_t packets_sent;           /**< Tunnel datagrams sent (data and handshake). */
  uint64_t packets_received;       /**< Tunnel datagrams received. */
  uint64_t bytes_sent;             /**< UDP payload bytes sent. */
  uint64_t bytes_received;         /**< UDP payload bytes received. */
  uint64_t dropped_malformed;      /**< Datagrams that failed to parse. */
  uint64_t dropped_unknown_path;   /**< Datagrams for a PathID we do not have. */
  uint64_t dropped_auth;           /**< Datagrams whose MAC did not verify. */
  uint64_t dropped_replay;         /**< Datagrams with a counter already seen or too old. */
  uint64_t dropped_no_tunnel;      /**< Inner packets for a virtual address without a peer. */
  uint64_t handshakes_completed;   /**< Sessions established (either side). */
  uint64_t handshakes_failed;      /**< Handshakes that timed out or were rejected. */
  /* ---- version 2 ---- */
  uint64_t dropped_spoofed;        /**< Authenticated packets whose inner source address is not a
                                        virtual address of the peer that sent them. */
  uint64_t dropped_policy;         /**< Packets and connections refused by the access policy. */
  uint64_t dropped_limit;          /**< Connections and packets refused by a limit (memory
                                        budget, socket table, connections per peer, a full
                                        queue). */
  uint64_t handshakes_initiated;   /**< Handshake initiations sent, retries included. */
  uint64_t logins;                 /**< Successful logins at the AS, the first one included. */
  uint64_t registrations;          /**< Registrations the DC acknowledged, the first included. */
  uint64_t network_changes;        /**< Changes of the host's usable addresses or default routes
                                        that the node acted on. */
  uint64_t resolves_sent;          /**< Resolve requests sent to the DC, retransmissions
                                        included. */
  uint64_t directions_received;    /**< Directions received from the DC. */
  uint64_t dc_keepalives_sent;     /**< Keepalives sent to the DC. */
  uint64_t dc_keepalives_missed;   /**< Keepalives the DC left unanswered. */
  uint64_t relay_fallbacks;        /**< Times a tunnel moved from a direct path to a relay. */
  uint64_t direct_upgrades;        /**< Times a relayed tunnel moved to a direct path. */
  uint64_t tcp_connections;        /**< TCP connections open now (a gauge). */
  uint64_t memory_used;            /**< Bytes of the memory budget in use now (a gauge). */
} ntm_stats;

/**
 * Reads the node's counters.
 * @return NTM_OK, NTM_EINVAL for NULL, NTM_EVERSION, NTM_ESTATE if not running.
 */
NTM_EXTERN(int) ntm_get_stats(ntm_stats *stats);

/* ------------------------------------------------------------------------------------------ */
/* Sockets (BSD mirror; -1 and errno on failure)                                               */
/* ------------------------------------------------------------------------------------------ */

/**
 * Creates a socket in the virtual stack. domain: AF_INET or AF_INET6; type: SOCK_STREAM or
 * SOCK_DGRAM (optionally | SOCK_NONBLOCK); protocol: 0. Needs a running node (else ENETDOWN).
 */
NTM_EXTERN(int) ntm_socket(int domain, int type, int protocol);

/** Binds to a virtual address and port (INADDR_ANY / in6addr_any allowed). */
NTM_EXTERN(int) ntm_bind(int fd, const struct sockaddr *addr, socklen_t addrlen);

/** Marks a stream socket as accepting connections. */
NTM_EXTERN(int) ntm_listen(int fd, int backlog);

/** Blocks until a connection arrives (or EAGAIN if non-blocking); returns the new ntm fd. */
NTM_EXTERN(int) ntm_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);

/**
 * Connects to a peer's virtual address. Blocks (or EINPROGRESS if non-blocking). Fails with
 * EHOSTUNREACH at once when no peer owns that virtual address, ECONNREFUSED when the peer has
 * nothing listening, ETIMEDOUT when the peer cannot be reached.
 */
NTM_EXTERN(int) ntm_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);

/** Sends; returns the bytes taken. flags: MSG_DONTWAIT, MSG_MORE, MSG_NOSIGNAL. Blocks. */
NTM_EXTERN(ssize_t) ntm_send(int fd, const void *buf, size_t len, int flags);

/** Receives; returns bytes read, 0 at end of stream. flags: MSG_PEEK, MSG_DONTWAIT,
 *  MSG_WAITALL. Blocks. */
NTM_EXTERN(ssize_t) ntm_recv(int fd, void *buf, size_t len, int flags);

/** Sends a datagram to a virtual address (or on a connected socket when addr is NULL). */
NTM_EXTERN(ssize_t) ntm_sendto(int fd, const void *buf, size_t len, int flags,
                               const struct sockaddr *addr, socklen_t addrlen);

/** Receives a datagram and its source virtual address. Blocks. */
NTM_EXTERN(ssize_t) ntm_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                                 socklen_t *addrlen);

/** Shuts down reading (SHUT_RD), writing (SHUT_WR) or both (SHUT_RDWR). */
NTM_EXTERN(int) ntm_shutdown(int fd, int how);

/**
 * Closes the socket. Safe from another thread: a blocking ntm_connect, ntm_recv, ntm_recvfrom,
 * ntm_accept or ntm_send on it returns promptly with -1 and EBADF, and an ntm_poll waiting on it
 * returns with POLLNVAL in that entry's revents.
 */
NTM_EXTERN(int) ntm_close(int fd);

/**
 * Sets an option. Supported: SOL_SOCKET: SO_REUSEADDR, SO_KEEPALIVE, SO_RCVTIMEO, SO_SNDTIMEO
 * (struct timeval), SO_RCVBUF, SO_SNDBUF, SO_BROADCAST; IPPROTO_TCP: TCP_NODELAY, TCP_KEEPIDLE,
 * TCP_KEEPINTVL, TCP_KEEPCNT; IPPROTO_IPV6: IPV6_V6ONLY. Others fail with ENOPROTOOPT.
 * SO_RCVBUF and SO_SNDBUF fix a TCP socket's buffer size (capped at max_socket_buffer; without
 * them the buffers grow with the path); on a listening socket SO_SNDBUF fails with EINVAL.
 */
NTM_EXTERN(int) ntm_setsockopt(int fd, int level, int optname, const void *optval,
                               socklen_t optlen);

/** Reads an option: those of ntm_setsockopt() plus SO_ERROR and SO_TYPE. */
NTM_EXTERN(int) ntm_getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen);

/** The socket's local virtual address. */
NTM_EXTERN(int) ntm_getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen);

/** The connected peer's virtual address. */
NTM_EXTERN(int) ntm_getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen);

/**
 * Waits for events on ntm sockets, like poll(2): fds[i].fd are ntm descriptors, events and
 * revents use POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL. timeout_ms -1 waits forever. Blocks.
 * A descriptor that is closed (ntm_close(), or every socket by ntm_stop()) reports POLLNVAL at
 * once, also when it is closed by another thread during the wait; safe to call in a loop that
 * races with ntm_stop().
 */
NTM_EXTERN(int) ntm_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms);

/** fcntl(2) subset: F_GETFL and F_SETFL with O_NONBLOCK. */
NTM_EXTERN(int) ntm_fcntl(int fd, int cmd, int value);

/**
 * Resolves a node name (or a numeric virtual address) to virtual addresses, like getaddrinfo(3).
 * Names come from this node's peers (and itself). Returns 0 or an EAI_* code (EAI_NONAME for an
 * unknown name). Free the result with ntm_freeaddrinfo().
 */
NTM_EXTERN(int) ntm_getaddrinfo(const char *node, const char *service,
                                const struct addrinfo *hints, struct addrinfo **res);

/** Frees a list from ntm_getaddrinfo(). */
NTM_EXTERN(void) ntm_freeaddrinfo(struct addrinfo *res);

/* ------------------------------------------------------------------------------------------ */
/* Real-descriptor bridge                                                                      */
/* ------------------------------------------------------------------------------------------ */

/**
 * Turns a connected ntm stream socket into an OS descriptor: returns one end of a socketpair
 * whose other end the library pumps to and from the virtual socket, so runtimes that need a real
 * file descriptor (select/epoll, Ruby IO, Python selectors/asyncio/ssl) can use it. Takes
 * ownership of ntm_fd (do not close it). Closing the returned descriptor closes the connection;
 * shutdown(SHUT_WR) on it sends FIN. Returns -1 and errno on failure (ntm_fd is then closed).
 */
NTM_EXTERN(int) ntm_bridge_socket(int ntm_fd);

/**
 * Creates a stream socket, connects it to addr (blocking) and bridges it: returns an OS
 * descriptor, or -1 and errno (as ntm_connect()).
 */
NTM_EXTERN(int) ntm_bridge_connect(const struct sockaddr *addr, socklen_t addrlen);

/**
 * Accepts a connection on a listening ntm socket (blocking, as ntm_accept()) and bridges it:
 * returns an OS descriptor, or -1 and errno. addr/addrlen receive the peer's virtual address.
 */
NTM_EXTERN(int) ntm_bridge_accept(int listen_fd, struct sockaddr *addr, socklen_t *addrlen);

/** Size of the address record that precedes each connection on a bridged listener. */
#define NTM_BRIDGE_HELLO_SIZE 20

/**
 * Turns a listening ntm stream socket into an OS listening descriptor (a Unix-domain stream
 * socket), so select/epoll/IO.select/asyncio can wait for connections. A library thread accepts
 * virtual connections and hands each to the OS listener as a bridged connection. Accept them
 * with ntm_bridge_accept_listener() (which also reports the peer's virtual address), not with
 * accept(2). Takes ownership of ntm_listen_fd. Close the returned descriptor to stop listening:
 * the library notices within about 200 ms (it watches that descriptor number, so keep the
 * returned number open while listening - do not dup2() over it). Bridged connections have
 * TCP_NODELAY set on their virtual side.
 * Returns -1 and errno on failure (ntm_listen_fd is then closed).
 */
NTM_EXTERN(int) ntm_bridge_listen(int ntm_listen_fd);

/**
 * Accepts one connection from a descriptor made by ntm_bridge_listen(): returns an OS stream
 * descriptor carrying the virtual connection (like ntm_bridge_socket()) and writes the peer's
 * virtual address to addr/addrlen (may be NULL). Blocks unless os_listen_fd is non-blocking
 * (then -1/EAGAIN when none is pending). Returns -1 and errno on failure.
 */
NTM_EXTERN(int) ntm_bridge_accept_listener(int os_listen_fd, struct sockaddr *addr,
                                           socklen_t *addrlen);

/**
 * Sets an option of the virtual connection behind a bridged OS descriptor: one returned by
 * ntm_bridge_socket(), ntm_bridge_connect(), ntm_bridge_accept() or
 * ntm_bridge_accept_listener(), or any dup of it. Those descriptors are Unix-domain sockets, so
 * setsockopt(2) on them cannot reach TCP options; this call applies them to the connection, at
 * any time while it is open, with ntm_setsockopt()'s values: SOL_SOCKET: SO_KEEPALIVE;
 * IPPROTO_TCP: TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT. Bridged connections start
 * with TCP_NODELAY on (the pumps forward each write at once). Set buffer sizes and timeouts on
 * the OS descriptor itself.
 * @return 0, or -1 and errno: ENOPROTOOPT for another option; EBADF if os_fd is not open;
 *         ENOTSOCK if it is not a socket; ENOTCONN if it is not a bridged connection (or the
 *         connection has ended).
 */
NTM_EXTERN(int) ntm_bridge_setsockopt(int os_fd, int level, int optname, const void *optval,
                                      socklen_t optlen);

/** Reads an option of the virtual connection behind a bridged OS descriptor (as
 *  ntm_bridge_setsockopt(), same options and errors). */
NTM_EXTERN(int) ntm_bridge_getsockopt(int os_fd, int level, int optname, void *optval,
                                      socklen_t *optlen);

/** Size of the source record that precedes each datagram on a bridged datagram descriptor. */
#define NTM_BRIDGE_DGRAM_HEADER_SIZE 20

/**
 * Gives an ntm datagram socket an OS descriptor that is readable when a datagram waits, so
 * select/epoll, Python selectors/asyncio and Ruby IO can wait for datagrams. Returns one end of a
 * SOCK_SEQPACKET socketpair (close-on-exec); the library writes every datagram of ntm_fd there
 * as it arrives (from the thread that feeds the virtual stack, no thread in between), as one
 * message: a NTM_BRIDGE_DGRAM_HEADER_SIZE-byte source record (family u8 4 or 6, a zero byte,
 * port u16 big-endian, address[16], IPv4 in the first 4 bytes) and then the payload. Read them with ntm_bridge_recvfrom() (or recv(2) and decode the record).
 * ntm_fd stays the application's for everything but receiving: send with ntm_send()/ntm_sendto()
 * on it, bind, connect and set options on it; receiving on ntm_fd itself gets nothing while it
 * is bridged. A socket not bound yet receives once it is (ntm_bind(), ntm_connect() or a first
 * send). Datagrams arriving while the descriptor's queue (about 4 MiB) is full are dropped, as
 * by a full UDP receive buffer. ntm_close(ntm_fd) stops the bridge and closes the socket; the
 * descriptor then reads end-of-file: close it too. Closing only the descriptor stops the bridge
 * when the next datagram arrives (that one and the later ones wait on ntm_fd again) and leaves
 * ntm_fd open. ntm_stop() ends every bridge.
 * @return the OS descriptor, or -1 and errno: EBADF; EOPNOTSUPP if ntm_fd is not a datagram
 *         socket; EALREADY if it is bridged already; socketpair(2)'s errors.
 */
NTM_EXTERN(int) ntm_bridge_datagram(int ntm_fd);

/**
 * Reads one datagram from a descriptor of ntm_bridge_datagram(): like recvfrom(2) on the
 * virtual socket, with the sender's virtual address in from/fromlen (may be NULL). flags are
 * recv(2)'s (MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC); a datagram longer than len is truncated. Blocks
 * unless os_fd is non-blocking or MSG_DONTWAIT is given.
 * @return the payload's size (0 for an empty datagram), or -1 and errno: recvmsg(2)'s (EAGAIN
 *         when none waits on a non-blocking read), EBADF once the socket was closed or the node
 *         stopped (end-of-file of the descriptor), EPROTO if os_fd carries no bridged datagrams.
 */
NTM_EXTERN(ssize_t) ntm_bridge_recvfrom(int os_fd, void *buf, size_t len, int flags,
                                        struct sockaddr *from, socklen_t *fromlen);

/* ------------------------------------------------------------------------------------------ */
/* Logging                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/**
 * Receives one log line of the library: its level, the component that logged it (the part of
 * the library: "node", "tunnel", "control", "mobility", "stack"...) and the message (no
 * timestamp, no newline). The strings are valid only during the call. Never secrets.
 */
typedef void (*ntm_log_cb)(ntm_log_level level, const char *component, const char *message,
                           void *user_data);

/**
 * Sends the library's log lines to cb instead of stderr, for the application's own logging.
 * cb runs on one dedicated library thread, in the order the lines were logged, never
 * concurrently with itself; it may call any ntm function except ntm_set_log_callback(). Which
 * lines are logged is decided by the level (ntm_set_log_level(); ntm_start() sets it from
 * options.log_level). NULL restores stderr: once that call returns, the old callback runs no
 * more. At process exit callbacks stop (none starts once exit() has begun). Thread-safe.
 * @return NTM_OK.
 */
NTM_EXTERN(int) ntm_set_log_callback(ntm_log_cb cb, void *user_data);

/**
 * Sets which lines are logged (to the callback or stderr), at any time; ntm_start() sets it
 * again from options.log_level.
 * @return NTM_OK, or NTM_EINVAL for an unknown level.
 */
NTM_EXTERN(int) ntm_set_log_level(ntm_log_level level);

#ifdef __cplusplus
}
#endif

#endif /* NTM_H */
