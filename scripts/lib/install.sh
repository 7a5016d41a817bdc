# Shared by scripts/test and scripts/demo: idempotent installs, quiet unless they fail.
DEBIAN_PACKAGES=(
  prosody lua-unbound                       # XMPP server (tests, demo)
  ejabberd                                  # second XMPP server (tests; brings erlc)
  kamailio kamailio-presence-modules kamailio-extra-modules kamailio-utils-modules
  baresip-core                              # SIP server and phones (telephony tests)
  slapd ldap-utils                          # OpenLDAP (directory tests)
  chromium                                  # headless status-page test
  postgresql                                # PostgreSQL store and HA tests
)

install_debian_packages() {
  local missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packaged Prosody service is not used: tests and the demo start their own.
  $sudo systemctl disable --now prosody >/dev/null 2>&1 || $sudo service prosody stop >/dev/null 2>&1 || true
  $sudo systemctl disable --now ejabberd >/dev/null 2>&1 || $sudo service ejabberd stop >/dev/null 2>&1 || true
}

install_python_env() {
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test]"
}
