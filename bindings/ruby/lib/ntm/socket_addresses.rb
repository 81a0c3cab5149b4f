# frozen_string_literal: true

module NTM
  # IPSocket's address methods (addr, peeraddr, local_address, remote_address, getsockname,
  # getpeername) answering with a socket's virtual addresses, not its bridged OS descriptor's.
  # The including class defines the private ntm_local and ntm_peer (the C extension's address
  # arrays) and NTM_SOCKET_TYPE (:TCP or :UDP, for Addrinfo).
  module SocketAddresses
    # ["AF_INET", port, host, ip] for the local virtual address, as IPSocket#addr.
    def addr(reverse_lookup = nil)
      NTM::Address.ipaddr(ntm_local, NTM::Address.reverse?(reverse_lookup, self))
    end

    # ["AF_INET", port, host, ip] for the peer's virtual address, as IPSocket#peeraddr.
    def peeraddr(reverse_lookup = nil)
      NTM::Address.ipaddr(ntm_peer, NTM::Address.reverse?(reverse_lookup, self))
    end

    def local_address
      NTM::Address.addrinfo(ntm_local, self.class::NTM_SOCKET_TYPE)
    end

    def remote_address
      NTM::Address.addrinfo(ntm_peer, self.class::NTM_SOCKET_TYPE)
    end

    def getsockname
      NTM::Address.sockaddr(ntm_local)
    end

    def getpeername
      NTM::Address.sockaddr(ntm_peer)
    end
  end
end
