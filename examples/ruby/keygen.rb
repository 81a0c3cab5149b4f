# frozen_string_literal: true

# Prints a new node key pair: "PRIVATE PUBLIC" (base64), like the C ntm-keygen.
#   ruby examples/ruby/keygen.rb > /tmp/bob.key
require_relative "node_args"

puts NTM.generate_keypair.join(" ")
