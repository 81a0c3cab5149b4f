# frozen_string_literal: true

module NTM
  # Conversions between the extension's addresses ([family, ip, port] with family 4 or 6) and
  # Ruby's socket conventions (address arrays, Addrinfo, packed sockaddrs). Internal.
  module Address
    module_function

    # 4 or 6 from Socket::AF_INET(6), :INET(6), "AF_INET(6)", 4 or 6.
    def family_number(family)
      case family
      when 4, Socket::AF_INET, :INET, :AF_INET, "INET", "AF_INET" then 4
      when 6, Socket::AF_INET6, :INET6, :AF_INET6, "INET6", "AF_INET6" then 6
      else raise SocketError, "unknown socket domain: #{family.inspect}"
      end
    end

    # An Integer port from an Integer, a numeric String or a service name ("http").
    def port(value)
      case value
      when Integer then value
      when nil then 0
      when /\A\d+\z/ then Integer(value, 10)
      when String then Socket.getservbyname(value, "tcp")
      else raise TypeError, "no implicit conversion of #{value.class} into Integer (port)"
      end
    end

    # [[family, ip, port], ...] for a host (name or numeric virtual address) through the node's
    # resolver. family 0 for both. nil or "" host: the wildcard address (passive).
    def resolve(host, port, family: 0, passive: false)
      host = host.to_s if host.is_a?(IPAddr)
      host = host.to_str if host.respond_to?(:to_str)
      host = nil if host == ""
      host = host.delete_prefix("[").delete_suffix("]") if host
      Native.getaddrinfo(host, port, family, passive)
    end

    # The numeric text form inet_ntop(3) produces, for comparisons.
    def canonical_ip(ip)
      IPAddr.new(ip).to_s
    rescue IPAddr::Error
      ip
    end

    def family_name(address)
      address[0] == 6 ? "AF_INET6" : "AF_INET"
    end

    def wildcard?(address)
      address[1] == "0.0.0.0" || address[1] == "::"
    end

    # ["AF_INET", port, host, ip] as IPSocket#addr; host is the node name when reverse.
    def ipaddr(address, reverse)
      family, ip, port = address
      host = reverse ? (NTM.name_of(ip) || ip) : ip
      [family == 6 ? "AF_INET6" : "AF_INET", port, host, ip]
    end

    # Whether IPSocket#addr(reverse_lookup) should name the host, as Ruby decides it.
    def reverse?(argument, socket)
      case argument
      when nil then !socket.do_not_reverse_lookup
      when true, :hostname then true
      when false, :numeric then false
      else raise TypeError, "invalid reverse_lookup flag: #{argument.inspect}"
      end
    end

    def addrinfo(address, protocol)
      _family, ip, port = address
      protocol == :UDP ? Addrinfo.udp(ip, port) : Addrinfo.tcp(ip, port)
    end

    def sockaddr(address)
      Socket.sockaddr_in(address[2], address[1])
    end

    # [family, ip, port] from an Addrinfo or a packed sockaddr_in/sockaddr_in6.
    def from_sockaddr(value)
      value = Addrinfo.new(value) if value.is_a?(String)
      raise TypeError, "expected an Addrinfo or a packed sockaddr" unless value.is_a?(Addrinfo)
      raise SocketError, "not an IP address: #{value.inspect}" unless value.ip?

      [value.ipv6? ? 6 : 4, value.ip_address, value.ip_port]
    end

    def to_s(address)
      address[0] == 6 ? "[#{address[1]}]:#{address[2]}" : "#{address[1]}:#{address[2]}"
    end
  end
end
