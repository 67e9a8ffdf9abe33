"""extframe.ovs: the patched Open vSwitch as extframe drives it.

- ``switch``    a running ovs-vswitchd and ovsdb-server, found by their run
                directory, driven with OVS's own tools (ovs-appctl,
                ovs-vsctl, ovs-ofctl) from the patched build
- ``sandbox``   the embedded switch: ovsdb-server and the patched
                ovs-vswitchd in a private run directory, with hosts in
                network namespaces joined to its bridge by veth pairs
- ``registry``  register, replace, unregister and list actions: build,
                verify, analyse, pin, then ``bpf/add`` with the
                re-classification the analysis proved
- ``fields``    the analyzer's field names in OVS's words: what ``fields=``
                tells the switch
- ``traffic``   what the hosts send and receive (run inside a namespace)
- ``demo``      ``extframe demo``: the whole loop on the sandbox
"""
