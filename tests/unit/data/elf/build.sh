#!/bin/sh
# Rebuilds the ELF fixtures of tests/unit/test_elf.py from their C sources
# (README.md says what each one covers). Run it from anywhere; it needs
# clang 14 (Debian 12) and llvm-objdump 14.
#
# The real actions are first copied here (actions/, with the ABI header they
# include), and the copies are compiled: the objects, the source text in
# their BTF line info and the files the tests read then always agree, however
# actions/ evolves afterwards. -fdebug-prefix-map turns the checkout path
# into "." in BTF and DWARF, so the output is byte-for-byte reproducible
# wherever the repository lives.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
clang=${CLANG:-clang-14}
objdump=${OBJDUMP:-llvm-objdump-14}
cd "$root"
rel=tests/unit/data/elf

mkdir -p "$rel/actions/include"
cp actions/include/extframe.h "$rel/actions/include/extframe.h"
for name in dec_ttl port_counter port_filter; do
	cp "actions/$name.c" "$rel/actions/$name.c"
done

build() {
	"$clang" -O2 -g -target bpf -mcpu=v3 \
		-I"$root/$rel/actions/include" -I/usr/include/x86_64-linux-gnu \
		-fdebug-prefix-map="$root"=. \
		-c "$1" -o "$2"
}

for name in features extras; do
	build "$rel/$name.c" "$rel/$name.elf"
done
for name in dec_ttl port_counter port_filter; do
	build "$rel/actions/$name.c" "$rel/$name.elf"
done
# The reference listing that line info is cross-checked against.
"$objdump" -d -l --no-show-raw-insn "$rel/dec_ttl.elf" > "$rel/dec_ttl.objdump.txt"
