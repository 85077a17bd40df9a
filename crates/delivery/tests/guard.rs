//! The network guard: what webhooks may reach by default, and what an allow list opens.

use std::net::IpAddr;

use herald_delivery::NetworkGuard;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn refuses_every_non_public_range() {
    let guard = NetworkGuard::default();
    let refused = [
        // IPv4
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "reserved"),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.255", "carrier-grade NAT"),
        ("169.254.169.254", "link-local"),
        ("169.254.0.1", "link-local"),
        ("255.255.255.255", "broadcast"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("240.0.0.1", "reserved"),
        // IPv6
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("fe80::1", "link-local"),
        ("febf::1", "link-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        // IPv4-mapped IPv6 forms follow the IPv4 rules.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:192.168.0.1", "private"),
        ("::ffff:100.64.0.1", "carrier-grade NAT"),
        ("::ffff:0.0.0.0", "unspecified"),
    ];
    for (address, kind) in refused {
        let error = guard
            .check(ip(address))
            .expect_err(&format!("{address} must be refused"));
        assert!(error.contains(kind), "{address}: {error}");
        assert!(error.contains(address), "{address}: {error}");
        assert!(
            error.contains("webhook_allow_networks"),
            "{address}: {error}"
        );
    }
}

#[test]
fn allows_public_addresses() {
    let guard = NetworkGuard::default();
    for address in [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "172.15.255.255",
        "172.32.0.1",
        "100.63.255.255",
        "100.128.0.1",
        "169.253.1.1",
        "192.169.0.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001::200e",
        "::ffff:8.8.8.8",
    ] {
        assert_eq!(guard.check(ip(address)), Ok(()), "{address}");
    }
}

#[test]
fn an_allow_list_opens_exactly_its_networks() {
    let guard = NetworkGuard::parse(&[
        "127.0.0.0/8".to_owned(),
        "10.1.0.0/16".to_owned(),
        "::1".to_owned(),
    ])
    .unwrap();
    for address in [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "::1",
        "::ffff:127.0.0.1",
    ] {
        assert_eq!(guard.check(ip(address)), Ok(()), "{address}");
    }
    for address in ["10.2.0.1", "192.168.0.1", "169.254.169.254", "fe80::1"] {
        assert!(guard.check(ip(address)).is_err(), "{address}");
    }
    // Public addresses stay allowed: the list only adds.
    assert_eq!(guard.check(ip("8.8.8.8")), Ok(()));

    let built = NetworkGuard::new(vec!["192.168.0.0/16".parse().unwrap()]);
    assert_eq!(built.check(ip("192.168.7.7")), Ok(()));
}

#[test]
fn parse_errors_name_the_bad_entry() {
    for bad in ["10.0.0.0/33", "localhost", "", "10.0.0.0/8/8", "fe80::/129"] {
        let error = NetworkGuard::parse(&["127.0.0.0/8".to_owned(), bad.to_owned()])
            .expect_err(&format!("{bad:?} must be refused"));
        assert!(error.contains(&format!("{bad:?}")), "{bad:?}: {error}");
        assert!(error.contains("webhook_allow_networks"), "{error}");
    }
    assert!(NetworkGuard::parse(&[]).is_ok());
}
