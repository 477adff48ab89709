//! End-to-end tests of picket-node's sockets changed at run time, beside redis-server:
//! CONFIG SET port and bind rebind without dropping the old sockets on failure, and
//! `bind-source-addr` for the replica's link (Redis's unit/networking).

use common::{wait_until, Client, Server};
use picket_testkit as common;
use std::time::Duration;

fn rebinding_matches_redis(s: &Server) {
    let mut c = s.client();
    // A port someone else holds: refused, and the server keeps its own.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "port", &taken_port]),
        "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"
    );
    assert_eq!(s.client().cmd_str(&["PING"]), "+PONG\r\n");
    for bad in ["999.999.999.999", "-999.9.9.9 127.0.0.1"] {
        assert_eq!(
            c.cmd_str(&["CONFIG", "SET", "bind", bad]),
            "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n",
            "{bad}"
        );
    }
    assert_eq!(s.client().cmd_str(&["PING"]), "+PONG\r\n");
    // A free port: the server answers there, and no longer on the old one.
    let new_port = common::free_port();
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "port", &new_port.to_string()]),
        "+OK\r\n"
    );
    let mut moved = Client::connect(new_port);
    assert_eq!(moved.cmd_str(&["PING"]), "+PONG\r\n");
    assert!(moved
        .info("server")
        .contains(&format!("tcp_port:{new_port}\r\n")));
    assert!(wait_until(Duration::from_secs(5), || Client::try_connect(
        s.port
    )
    .is_none()));
    // The connection that moved it stays.
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    drop(taken);
    moved.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(moved.read_reply().is_none());
}

#[test]
fn config_set_port_and_bind_rebind_as_redis_does() {
    rebinding_matches_redis(&Server::redis(&[]));
    rebinding_matches_redis(&Server::picket(&[]));
}

/// The replica connects from `bind-source-addr`: its master lists it with that address.
#[test]
fn a_replica_connects_from_its_bind_source_addr() {
    let master = Server::picket(&["--protected-mode", "no"]);
    let replica = Server::picket(&[]);
    let mut r = replica.client();
    r.cmd(&["CONFIG", "SET", "bind-source-addr", "127.0.0.2"]);
    r.cmd(&["REPLICAOF", "127.0.0.1", &master.port.to_string()]);
    assert!(wait_until(Duration::from_secs(10), || r
        .field("master_link_status")
        == "up"));
    let mut m = master.client();
    assert!(
        wait_until(Duration::from_secs(5), || m
            .field("slave0")
            .starts_with("ip=127.0.0.2,")),
        "{}",
        m.field("slave0")
    );
}
