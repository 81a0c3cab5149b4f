# frozen_string_literal: true

module NTM
  # Socket option arguments as Ruby's BasicSocket#setsockopt takes them (Integer, Symbol or
  # String names; true/false, Integer or packed String values), reduced to numbers, and the
  # options that belong to the virtual connection rather than the bridged OS descriptor.
  module TCPOptions
    CONNECTION = [
      [Socket::SOL_SOCKET, Socket::SO_KEEPALIVE],
      [Socket::IPPROTO_TCP, Socket::TCP_NODELAY],
      [Socket::IPPROTO_TCP, Socket::TCP_KEEPIDLE],
      [Socket::IPPROTO_TCP, Socket::TCP_KEEPINTVL],
      [Socket::IPPROTO_TCP, Socket::TCP_KEEPCNT]
    ].freeze

    module_function

    def connection?(level, optname)
      CONNECTION.include?([level, optname])
    end

    # :TCP, "TCP", :IPPROTO_TCP, :SOCKET, :SOL_SOCKET ... or an Integer.
    def level(level)
      return level if level.is_a?(Integer)

      name = level.to_s.upcase.sub(/\A(IPPROTO_|SOL_)/, "")
      name == "SOCKET" ? Socket::SOL_SOCKET : Socket.const_get("IPPROTO_#{name}")
    end

    # :NODELAY, "TCP_NODELAY", :KEEPALIVE, "SO_KEEPALIVE" ... or an Integer.
    def optname(level, optname)
      return optname if optname.is_a?(Integer)

      prefix = level == Socket::SOL_SOCKET ? "SO_" : "TCP_"
      name = optname.to_s.upcase
      name = prefix + name unless name.start_with?(prefix)
      Socket.const_get(name)
    end

    # true/false, an Integer, or a packed native int (as Socket::Option#data).
    def int(value)
      case value
      when true then 1
      when false, nil then 0
      when Integer then value
      when String then value.unpack1("i")
      else Integer(value)
      end
    end
  end
end
