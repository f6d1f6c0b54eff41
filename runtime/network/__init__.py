"""Container networking: bridge networks, IPAM, veth endpoints, nftables rules, published ports, embedded DNS.

The service the daemon talks to is :class:`runtime.network.service.NetworkService`; below it, one module per
concept and no upward imports:

- ``netns``     named network namespaces (nsfs bind mounts under ``<run_dir>/netns``), entered by threads made
                for the call alone
- ``ipam``      address pools, subnets that overlap no host route, round-robin address allocation
- ``bridge``    Linux bridges with their gateway addresses (netlink)
- ``endpoint``  veth pairs: host side on the bridge, ``ethN`` created straight inside the sandbox
- ``nat``       our own nftables table: masquerade, isolation between bridges, internal networks
- ``iptables``  the same rules in our own iptables chains, where ``nft`` is absent; ``firewall`` picks one
- ``ports``     port specs and the all-or-nothing bind of published host sockets
- ``proxy``     the userland port proxy process (standard library only); ``publisher`` starts/stops it
- ``model``     network and endpoint records, Docker's inspect shapes; ``store`` atomic JSON files
- ``hostlock``  the host-wide lock around subnet choice, bridge creation and nft edits
- ``dns/``      the embedded DNS server
"""
