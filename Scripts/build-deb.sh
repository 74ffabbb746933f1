#!/usr/bin/env bash
# Builds letterbox_<version>_<arch>.deb from the release binary (docs/install.md's build), the
# man pages, the completions, the systemd units and the sample configuration, with dpkg-deb.
#
#   Scripts/build-deb.sh [OUTPUT_DIR]        (default: .build/deb)
#
# The binary must be built with --static-swift-stdlib: the package depends only on the Debian
# packages whose libraries it links (found with dpkg -S), never on a Swift toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build/deb}
binary=.build/release/letterbox
[ -x "$binary" ] || { echo "build-deb: $binary is missing: swift build -c release --static-swift-stdlib --product letterbox" >&2; exit 66; }
version=$("$binary" --version)
arch=$(dpkg --print-architecture)

# The packages of the shared libraries the binary links.
depends=()
while read -r library; do
    owner=$(dpkg -S "$library" 2>/dev/null | head -n1 | cut -d: -f1) || true
    [ -n "$owner" ] || owner=$(dpkg -S "$(readlink -f "$library")" 2>/dev/null | head -n1 | cut -d: -f1) || true
    if [ -z "$owner" ]; then
        echo "build-deb: $binary links $library, which no Debian package holds (build with --static-swift-stdlib)" >&2
        exit 65
    fi
    depends+=("$owner")
done < <(ldd "$binary" | awk '/=> \// {print $3}')
depends_line=$(printf '%s\n' "${depends[@]}" | sort -u | paste -sd, - | sed 's/,/, /g')

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$binary" "$root/usr/bin/letterbox"
strip --strip-unneeded "$root/usr/bin/letterbox" 2>/dev/null || true
install -d "$root/usr/share/man/man1" "$root/usr/share/man/man5"
for page in docs/man/*.1; do gzip -9nc "$page" > "$root/usr/share/man/man1/$(basename "$page").gz"; done
gzip -9nc docs/man/letterbox.conf.5 > "$root/usr/share/man/man5/letterbox.conf.5.gz"
install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d"
"$binary" --generate-completion-script bash > "$root/usr/share/bash-completion/completions/letterbox"
"$binary" --generate-completion-script zsh > "$root/usr/share/zsh/vendor-completions/_letterbox"
"$binary" --generate-completion-script fish > "$root/usr/share/fish/vendor_completions.d/letterbox.fish"
install -d "$root/lib/systemd/system"
sed -e 's|/usr/local/bin/|/usr/bin/|' contrib/systemd/letterbox.service > "$root/lib/systemd/system/letterbox.service"
install -m 0644 contrib/systemd/letterbox.socket "$root/lib/systemd/system/letterbox.socket"
chmod 0644 "$root/lib/systemd/system/letterbox.service"
install -d -m 0750 "$root/etc/letterbox"
sed -e "s|^data-dir = .*|data-dir = /var/lib/letterbox|" -e "s|^# mail-root = .*|mail-root = /var/mail/vhosts|" \
    contrib/letterbox.conf > "$root/etc/letterbox/letterbox.conf"
chmod 0640 "$root/etc/letterbox/letterbox.conf"
install -d "$root/usr/share/doc/letterbox/contrib"
install -m 0644 README.md CHANGELOG.md docs/*.md "$root/usr/share/doc/letterbox/"
cp -r contrib/postfix contrib/exim contrib/systemd "$root/usr/share/doc/letterbox/contrib/"
gzip -9n "$root/usr/share/doc/letterbox/CHANGELOG.md"
{ echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"; echo "Upstream-Name: letterbox"; echo
  echo "Files: *"; echo "License: MIT"; sed 's/^$/./; s/^/ /' LICENSE; } > "$root/usr/share/doc/letterbox/copyright"

install -d "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: letterbox
Version: $version
Architecture: $arch
Maintainer: Letterbox maintainers <letterbox@localhost>
Section: mail
Priority: optional
Depends: $depends_line, passwd
Installed-Size: $(du -sk "$root" | cut -f1)
Description: LMTP delivery agent into Maildir, with a delivery log
 letterbox serve listens on a Unix socket for Postfix's or Exim's lmtp transport and writes
 each message once, durably, hard-linked into every recipient's Maildir, answering one status
 per recipient and recording every delivery in a SQLite (or PostgreSQL) log that
 letterbox deliveries inspects.
CONTROL
echo /etc/letterbox/letterbox.conf > "$root/DEBIAN/conffiles"
# The maintainer scripts honour DPKG_ROOT (dpkg --root, --force-script-chrootless): users and
# directories are made under it, from its own /etc files.
cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    root=${DPKG_ROOT:-}
    if ! grep -q '^vmail:' "$root/etc/group"; then groupadd --prefix "${root:-/}" --system vmail; fi
    if ! grep -q '^vmail:' "$root/etc/passwd"; then
        useradd --prefix "${root:-/}" --system --gid vmail --home-dir /var/lib/letterbox --no-create-home --shell /usr/sbin/nologin vmail
    fi
    uid=$(awk -F: '$1 == "vmail" {print $3}' "$root/etc/passwd")
    gid=$(awk -F: '$1 == "vmail" {print $3}' "$root/etc/group")
    install -d -m 0750 "$root/var/lib/letterbox" "$root/var/mail/vhosts"
    chown "$uid:$gid" "$root/var/lib/letterbox" "$root/var/mail/vhosts"
    chown "0:$gid" "$root/etc/letterbox" "$root/etc/letterbox/letterbox.conf"
    if [ -z "$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
POSTINST
cat > "$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
    systemctl stop letterbox.socket letterbox.service 2>/dev/null || true
fi
PRERM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm"
mkdir -p "$out"
dpkg-deb --root-owner-group --build "$root" "$out/letterbox_${version}_${arch}.deb" >/dev/null
echo "$out/letterbox_${version}_${arch}.deb"
