//! The `mqtt://[user@]host:port/topic-filter` source (`mqtts://` for TLS): subscribes with QoS 1 on a
//! persistent session. The client acknowledges each batch of messages it reads off
//! the socket in one write (one write per message, as manual acks would cost, made
//! this thread the bottleneck at 50,000 messages/s); a read message waits in the
//! client's queue, which survives reconnects, until it is in the channel. While the
//! channel is full the client is not polled, so nothing more is read or
//! acknowledged and the broker holds the rest: a full channel slows the broker
//! instead of losing messages. Reconnects with exponential backoff. The password comes from `CITYTWIN_MQTT_PASSWORD`, never from
//! the scene file or the log.

use super::schema::{DecodeError, FeedMessage};
use super::tls::TlsSetup;
use super::{Backoff, FeedEvent, SourceState, send, source_tls};
use crossbeam_channel::Sender;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use std::sync::Arc;
use std::time::Duration;

/// Environment variable holding the broker password.
pub const PASSWORD_ENV: &str = "CITYTWIN_MQTT_PASSWORD";
/// Largest message decoded; bigger ones are rejected (and acknowledged, so the broker
/// does not redeliver them forever).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Largest packet read off the connection. Anything above breaks the connection, so it
/// is far above `MAX_MESSAGE_BYTES`; brokers should cap messages below it
/// (mosquitto's `message_size_limit`).
const MAX_PACKET_BYTES: usize = 32 << 20;

/// Where to connect and what to subscribe to.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttSpec {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub topic: String,
    /// `mqtts://`: TLS.
    pub tls: bool,
}

impl MqttSpec {
    /// Parses the part after `mqtt://`.
    pub fn parse(rest: &str) -> Result<Self, String> {
        let (authority, topic) = rest
            .split_once('/')
            .ok_or("needs a topic filter after host:port, e.g. mqtt://host:1883/city/#")?;
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((u, hp)) => (Some(u.to_string()), hp),
            None => (None, authority),
        };
        let (host, port) = host_port.rsplit_once(':').ok_or("needs host:port")?;
        let port: u16 = port.parse().map_err(|_| format!("bad port '{port}'"))?;
        if host.is_empty() || topic.is_empty() {
            return Err("needs a host and a topic filter".into());
        }
        Ok(Self {
            host: host.to_string(),
            port,
            user,
            topic: topic.to_string(),
            tls: false,
        })
    }

    /// A client id that stays the same across restarts, so the broker keeps the
    /// session (and its queued QoS 1 messages) for us.
    fn client_id(&self) -> String {
        let key = format!(
            "{}@{}:{}/{}",
            self.user.as_deref().unwrap_or(""),
            self.host,
            self.port,
            self.topic
        );
        // FNV-1a: stable across builds, unlike std's hasher.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        format!("citytwin-{hash:016x}")
    }
}

fn options(spec: &MqttSpec, tls: Option<Arc<rustls::ClientConfig>>) -> MqttOptions {
    let mut o = MqttOptions::new(spec.client_id(), spec.host.clone(), spec.port);
    o.set_keep_alive(Duration::from_secs(10))
        .set_clean_session(false)
        .set_max_packet_size(MAX_PACKET_BYTES, 64 * 1024);
    if let Some(config) = tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
    }
    if let Some(user) = &spec.user {
        o.set_credentials(
            user.clone(),
            std::env::var(PASSWORD_ENV).unwrap_or_default(),
        );
    }
    o
}

pub async fn run(source: usize, spec: MqttSpec, tx: Sender<FeedEvent>, tls: TlsSetup) {
    let Ok(tls) = source_tls(source, spec.tls, &tls, &tx).await else {
        return;
    };
    let (client, mut events) = AsyncClient::new(options(&spec, tls), 64);
    let mut backoff = Backoff::new();
    let mut received = 0u64;
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                // A broker that lost our session (restarted without persistence)
                // needs the subscription again.
                if !ack.session_present
                    && let Err(e) = client.try_subscribe(spec.topic.clone(), QoS::AtLeastOnce)
                {
                    let why = format!("cannot subscribe to {}: {e}", spec.topic);
                    send(
                        &tx,
                        FeedEvent::State {
                            source,
                            state: SourceState::Failed(why),
                        },
                    )
                    .await;
                    return;
                }
                if !send(
                    &tx,
                    FeedEvent::State {
                        source,
                        state: SourceState::Live,
                    },
                )
                .await
                {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                received += 1;
                let event = match std::str::from_utf8(&publish.payload) {
                    _ if publish.payload.len() > MAX_MESSAGE_BYTES => FeedEvent::Rejected {
                        source,
                        line: received,
                        error: DecodeError::TooLarge(publish.payload.len()),
                    },
                    Ok(text) => match FeedMessage::decode(text.trim()) {
                        Ok(message) => FeedEvent::Message { source, message },
                        Err(error) => FeedEvent::Rejected {
                            source,
                            line: received,
                            error,
                        },
                    },
                    Err(_) => FeedEvent::Rejected {
                        source,
                        line: received,
                        error: DecodeError::Envelope(format!(
                            "message on {} is not UTF-8",
                            publish.topic
                        )),
                    },
                };
                if !send(&tx, event).await {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                let why = format!(
                    "{}:{}: {e}; retrying in {:.1?}",
                    spec.host,
                    spec.port,
                    backoff.next()
                );
                if !send(
                    &tx,
                    FeedEvent::State {
                        source,
                        state: SourceState::Reconnecting(why),
                    },
                )
                .await
                {
                    return;
                }
                backoff.sleep().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s = MqttSpec::parse("ops@broker.local:1883/city/+/events").unwrap();
        assert_eq!(s.user.as_deref(), Some("ops"));
        assert_eq!(
            (s.host.as_str(), s.port, s.topic.as_str()),
            ("broker.local", 1883, "city/+/events")
        );
        assert!(MqttSpec::parse("broker:1883").is_err());
        assert!(MqttSpec::parse("broker:x/t").is_err());
        assert_eq!(
            s.client_id(),
            MqttSpec::parse("ops@broker.local:1883/city/+/events")
                .unwrap()
                .client_id()
        );
    }
}
