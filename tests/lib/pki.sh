#!/bin/sh
# Test PKI, made fresh by the tests (no private key of value is committed).
#   tests/lib/pki.sh DIR
# Creates in DIR, as PEM (keys 0600):
#   esia-ca.pem            the project's CA      esia-signer.{key,pem}  signs requests
#   pfr-ca.pem, fms-ca.pem the agencies' CAs     pfr-signer, fms-signer sign answers
#   pfr-expired.{key,pem}  issued by pfr-ca, validity ended in 2020
#   foreign-ca.pem         an untrusted CA       foreign-signer.{key,pem}
# Subjects: CN=<name>, O=<ESIA|PFR|FMS|Foreign>. Idempotent: keeps an existing DIR.
set -eu
D=${1:?usage: pki.sh DIR}
[ -f "$D/done" ] && exit 0
mkdir -p "$D"
cd "$D"
umask 077

cat >ca.cnf <<'CNF'
[ca]
default_ca = test
[test]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
organizationName = optional
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

mkca() { # NAME ORG -- valid 2015..2039, so certificates can be judged as of a past date
	: >index.txt
	[ -f serial ] || echo 1000 >serial
	openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" \
		-subj "/CN=$1/O=$2" 2>/dev/null
	openssl ca -batch -selfsign -config ca.cnf -keyfile "$1.key" -in "$1.csr" -out "$1.pem" \
		-startdate 20150101000000Z -enddate 20391231000000Z -extensions v3_ca -notext \
		>/dev/null 2>&1
	rm -f "$1.csr"
}

mkleaf() { # NAME ORG CA START END
	: >index.txt
	[ -f serial ] || echo 1000 >serial
	openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" \
		-subj "/CN=$1/O=$2" 2>/dev/null
	openssl ca -batch -config ca.cnf -cert "$3.pem" -keyfile "$3.key" -in "$1.csr" \
		-out "$1.pem" -startdate "$4" -enddate "$5" -extensions v3_leaf -notext \
		>/dev/null 2>&1
	rm -f "$1.csr"
}

mkca esia-ca ESIA
mkca pfr-ca PFR
mkca fms-ca FMS
mkca foreign-ca Foreign
mkleaf esia-signer ESIA esia-ca 20240101000000Z 20391231000000Z
mkleaf pfr-signer PFR pfr-ca 20240101000000Z 20391231000000Z
mkleaf fms-signer FMS fms-ca 20240101000000Z 20391231000000Z
mkleaf pfr-expired PFR pfr-ca 20180101000000Z 20200101000000Z
mkleaf foreign-signer Foreign foreign-ca 20240101000000Z 20391231000000Z
rm -f ./*.pem.old index.txt* serial* ./[0-9A-F]*.pem
chmod 0644 ./*.pem
touch done
