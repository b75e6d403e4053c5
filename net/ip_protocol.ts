/**
 * IP protocol numbers (IPv4 protocol field, IPv6 next header).
 *
 * @module
 */

/** IANA protocol numbers used by this package. */
export const IpProtocol = {
  /** IPv6 hop-by-hop options extension header. */
  HOP_BY_HOP: 0,
  /** Internet Control Message Protocol (IPv4). */
  ICMP: 1,
  /** Internet Group Management Protocol. */
  IGMP: 2,
  /** Transmission Control Protocol. */
  TCP: 6,
  /** User Datagram Protocol. */
  UDP: 17,
  /** IPv6 encapsulation. */
  IPV6: 41,
  /** IPv6 routing extension header. */
  ROUTING: 43,
  /** IPv6 fragment extension header. */
  FRAGMENT: 44,
  /** Generic Routing Encapsulation. */
  GRE: 47,
  /** Encapsulating Security Payload (not skippable: its contents are encrypted). */
  ESP: 50,
  /** Authentication Header. */
  AH: 51,
  /** ICMP for IPv6. */
  ICMPV6: 58,
  /** IPv6 "no next header". */
  NO_NEXT_HEADER: 59,
  /** IPv6 destination options extension header. */
  DESTINATION_OPTIONS: 60,
  /** Stream Control Transmission Protocol. */
  SCTP: 132,
} as const;

/** One of the {@link IpProtocol} values. */
export type IpProtocol = typeof IpProtocol[keyof typeof IpProtocol];
