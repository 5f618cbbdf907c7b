#!/bin/sh
# deploy/install-config.sh SRC DIR — meson install script: install the
# service's config SRC as DIR/darter.conf (under $DESTDIR), but never
# overwrite one that is already there and differs: an admin's edits survive
# a rebuild + `meson install`. The new default then goes beside it as
# darter.conf.new, to compare by hand.
set -eu
src=$1
dir=${DESTDIR:-}$2
dest=$dir/darter.conf
if [ -n "${MESON_INSTALL_DRY_RUN:-}" ]; then
    echo "Would install $src to $dest"
    exit 0
fi
mkdir -p "$dir"
if [ -e "$dest" ] && ! cmp -s "$src" "$dest"; then
    install -m 0644 "$src" "$dest.new"
    echo "Keeping existing $dest (it differs from the default); new default: $dest.new"
else
    install -m 0644 "$src" "$dest"
    echo "Installing $src to $dest"
fi
