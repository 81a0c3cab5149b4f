# frozen_string_literal: true

# The node options every Ruby example takes: the same flags as the C examples' node_args.c, so
# the Ruby, C, Python and Java examples talk to each other.
begin
  require "ntm"
rescue LoadError
  # Not installed as a gem: use the repository's binding (cd bindings/ruby && rake compile).
  binding_dir = File.expand_path("../../bindings/ruby", __dir__)
  $LOAD_PATH.unshift(File.join(binding_dir, "lib"), File.join(binding_dir, "tmp", "lib"))
  require "ntm"
end
require "optparse"

module NodeArgs
  module_function

  # Adds the node flags to an OptionParser; returns the Hash they fill.
  def add_to(parser)
    o = { listen: [], peers: [] }
    parser.separator ""
    parser.separator "Node (static-peer mode):"
    parser.on("--name NAME", "this node's name, e.g. alice.example") { |v| o[:name] = v }
    parser.on("--key PRIVATE_KEY", "this node's private key (see README: keys)") { |v| o[:key] = v }
    parser.on("--vip4 ADDR", "this node's virtual IPv4 address") { |v| o[:vip4] = v }
    parser.on("--vip6 ADDR", "this node's virtual IPv6 address") { |v| o[:vip6] = v }
    parser.on("--listen HOST:PORT", "real UDP address to bind; repeat for IPv4 and IPv6 ([::1]:0);",
              "once given, families not listed are off") { |v| o[:listen] << v }
    parser.on("--peer NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6", "a static peer (repeatable); ENDPOINT may be",
              "empty when only the peer starts tunnels") { |v| o[:peers] << parse_peer(v) }
    parser.on("--cipher aes|chacha", %w[aes chacha]) { |v| o[:cipher] = v }
    parser.on("--mtu N", Integer, "virtual MTU (default 1420)") { |v| o[:mtu] = v }
    parser.on("--log LEVEL", %w[off error warn info debug], "off|error|warn|info|debug") { |v| o[:log] = v }
    parser.separator ""
    parser.separator "Control-plane mode (instead of --name and virtual addresses):"
    parser.on("--server HOST:PORT", "the Account Server") { |v| o[:server] = v }
    parser.on("--server-cert PEM", "the AS's certificate (file or PEM text)") { |v| o[:server_cert] = v }
    parser.on("--account NAME", "account name at the AS") { |v| o[:account] = v }
    parser.on("--password TEXT", "the account's password or enrollment token") { |v| o[:password] = v }
    parser.on("--state DIR", "where the node keeps its key across restarts") { |v| o[:state] = v }
    parser.on("--direct-timeout MS", Integer, "hole punching time before relaying") { |v| o[:direct_timeout] = v }
    o
  end

  def parse_peer(spec)
    parts = spec.split(",", -1)
    raise OptionParser::InvalidArgument, "--peer wants NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6, got #{spec}" unless parts.size == 5

    name, public_key, endpoint, vip4, vip6 = parts.map { |p| p.empty? ? nil : p }
    { name: name, public_key: public_key, endpoint: endpoint, virtual_ipv4: vip4, virtual_ipv6: vip6 }
  end

  # Exits with status 2 and the usage when the mode's required flags are missing.
  def check(parser, o)
    problem = if o[:server]
                "--server needs --server-cert and --account" unless o[:server_cert] && o[:account]
              elsif !(o[:name] && o[:key] && (o[:vip4] || o[:vip6]))
                "static-peer mode needs --name, --key and --vip4 and/or --vip6"
              end
    return unless problem

    warn "#{parser.program_name}: #{problem}\n\n#{parser.help}"
    exit 2
  end

  # The NTM.start options for the parsed flags.
  def start_options(o)
    options = { name: o[:name], private_key: o[:key], virtual_ipv4: o[:vip4],
                virtual_ipv6: o[:vip6], peers: o[:peers], mtu: o[:mtu],
                log_level: o[:log]&.to_sym,
                cipher: { "aes" => :aes_256_gcm, "chacha" => :chacha20_poly1305 }[o[:cipher]] }
    unless o[:listen].empty?
      options[:listen_ipv4] = o[:listen].find { |a| !a.start_with?("[") } || ""
      options[:listen_ipv6] = o[:listen].find { |a| a.start_with?("[") } || ""
    end
    if o[:server]
      options.merge!(server: o[:server], server_certificate: o[:server_cert], account: o[:account],
                     password: o[:password], state_dir: o[:state],
                     direct_timeout: o[:direct_timeout] && o[:direct_timeout] / 1000.0)
    end
    options.compact
  end
end
