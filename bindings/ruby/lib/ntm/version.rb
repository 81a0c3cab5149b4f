# frozen_string_literal: true

module NTM
  # Version of this Ruby binding (libntm's own version: NTM.library_version).
  VERSION = "0.1.0"
end
