// Main logs written by a real Exim 4.96 (Debian exim4-daemon-heavy
// 4.96-15+deb12u10) on 127.0.0.1, the same traffic under different
// log_selector settings: authenticated submissions (PLAIN and LOGIN) to local,
// unknown, unroutable, remote accepting, remote 550 and remote 451
// recipients and to an alias list; failed AUTH; RCPTs rejected by the ACL;
// a cutthrough delivery; a connection-refused deferral and "retry time not
// reached"; Exim's own bounces, one frozen; an unauthenticated SMTP message
// and a local submission. Generated with the configuration and script in
// the comment at the end of this file.
#ifndef SENDERWATCH_TESTS_UNIT_EXIMLOG_SAMPLES_H_
#define SENDERWATCH_TESTS_UNIT_EXIMLOG_SAMPLES_H_

#include <string_view>

namespace senderwatch::testing {

// log_selector unset (Exim's default)
inline constexpr std::string_view kDefaultSelectorLog = R"exim(2026-11-27 14:55:41 exim 4.96 daemon started: pid=5432, no queue runs, listening for SMTP on [127.0.0.1]:24625
2026-11-27 14:55:42 1xWxMU-0001Pl-1K <= alice@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=507 id=20261127145542.005440@vm
2026-11-27 14:55:42 1xWxMU-0001Pl-1K ** someone@nowhere.test: Unrouteable address
2026-11-27 14:55:42 1xWxMU-0001Pl-1K ** nosuchuser@example.test R=unknown_local: No such user here
2026-11-27 14:55:42 1xWxMU-0001Pl-1K => bob <list@example.test> R=localuser T=local_file
2026-11-27 14:55:42 1xWxMU-0001Pl-1K => carol <list@example.test> R=localuser T=local_file
2026-11-27 14:55:42 1xWxMU-0001Pl-1K => good@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] K C="250- 522 byte chunk, total 522\\n250 OK id=1xWxMU-0001Pr-1O"
2026-11-27 14:55:42 1xWxMU-0001Pl-1K ** bad1@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<bad1@remote.test>: 550 5.1.1 <bad1@remote.test>: sink says user unknown
2026-11-27 14:55:42 1xWxMU-0001Pl-1K == tmp1@remote.test R=remote T=remote_smtp defer (-44) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<tmp1@remote.test>: 451 4.3.0 sink says try later
2026-11-27 14:55:42 1xWxMU-0001Pt-1Q <= <> R=1xWxMU-0001Pl-1K U=Debian-exim P=local S=2268
2026-11-27 14:55:42 1xWxMU-0001Pt-1Q => alice <alice@example.test> R=localuser T=local_file
2026-11-27 14:55:42 1xWxMU-0001Pt-1Q Completed
2026-11-27 14:55:42 plain authenticator failed for (vm) [127.0.0.1]: 535 Incorrect authentication data (set_id=alice)
2026-11-27 14:55:42 1xWxMU-0001Q1-2r <= bob@example.test H=(vm) [127.0.0.1] P=esmtpa A=login:bob S=453 id=20261127145542.005456@vm
2026-11-27 14:55:42 1xWxMU-0001Q1-2r => good2@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] K C="250- 468 byte chunk, total 468\\n250 OK id=1xWxMU-0001Q4-2t"
2026-11-27 14:55:42 1xWxMU-0001Q1-2r -> good3@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] K C="250- 468 byte chunk, total 468\\n250 OK id=1xWxMU-0001Q4-2t"
2026-11-27 14:55:42 1xWxMU-0001Q1-2r ** bad2@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<bad2@remote.test>: 550 5.1.1 <bad2@remote.test>: sink says user unknown
2026-11-27 14:55:42 1xWxMU-0001Q8-2x <= <> R=1xWxMU-0001Q1-2r U=Debian-exim P=local S=1909
2026-11-27 14:55:42 1xWxMU-0001Q1-2r Completed
2026-11-27 14:55:42 1xWxMU-0001Q8-2x => bob <bob@example.test> R=localuser T=local_file
2026-11-27 14:55:42 1xWxMU-0001Q8-2x Completed
2026-11-27 14:55:43 login authenticator failed for (vm) [127.0.0.1]: 535 Incorrect authentication data (set_id=bob)
2026-11-27 14:55:43 H=(vm) [127.0.0.1] F=<alice@example.test> A=plain:alice rejected RCPT <reject-me@remote.test>: 550 5.7.1 refused by policy test
2026-11-27 14:55:43 H=(vm) [127.0.0.1] F=<alice@example.test> A=plain:alice temporarily rejected RCPT <defer-me@remote.test>: 451 4.7.1 deferred by policy test
2026-11-27 14:55:43 1xWxMV-0001QF-19 <= alice@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=488 id=20261127145543.005470@vm
2026-11-27 14:55:43 1xWxMV-0001QF-19 => good4@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] K C="250- 504 byte chunk, total 504\\n250 OK id=1xWxMV-0001QI-1B"
2026-11-27 14:55:43 1xWxMV-0001QF-19 Completed
2026-11-27 14:55:43 1xWxMV-0001QN-1v >> ct1@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] C="250 OK id=1xWxMV-0001QO-1v"
2026-11-27 14:55:43 1xWxMV-0001QN-1v <= alice@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=441 id=20261127145543.005478@vm
2026-11-27 14:55:43 1xWxMV-0001QN-1v Completed
2026-11-27 14:55:44 1xWxMW-0001QS-07 <= alice@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=445 id=20261127145544.005483@vm
2026-11-27 14:55:44 1xWxMW-0001QS-07 H=127.0.0.1 [127.0.0.1] Connection refused
2026-11-27 14:55:44 1xWxMW-0001QS-07 == someone@down.test R=down T=remote_smtp defer (111): Connection refused
2026-11-27 14:55:44 1xWxMW-0001QX-0v <= nosuch@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=445 id=20261127145544.005488@vm
2026-11-27 14:55:44 1xWxMW-0001QX-0v ** bad3@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<bad3@remote.test>: 550 5.1.1 <bad3@remote.test>: sink says user unknown
2026-11-27 14:55:44 1xWxMW-0001Qc-10 <= <> R=1xWxMW-0001QX-0v U=Debian-exim P=local S=1910
2026-11-27 14:55:44 1xWxMW-0001QX-0v Completed
2026-11-27 14:55:44 1xWxMW-0001Qc-10 ** nosuch@example.test R=unknown_local: No such user here
2026-11-27 14:55:44 1xWxMW-0001Qc-10 Frozen (delivery error message)
2026-11-27 14:55:44 1xWxMW-0001Qg-1h <= carol@remote.test H=(vm) [127.0.0.1] P=esmtp S=440 id=20261127145544.005497@vm
2026-11-27 14:55:44 1xWxMW-0001Qg-1h => bob <bob@example.test> R=localuser T=local_file
2026-11-27 14:55:44 1xWxMW-0001Qg-1h Completed
2026-11-27 14:55:44 1xWxMW-0001Ql-2O <= root@example.test U=root P=local S=305
2026-11-27 14:55:44 1xWxMW-0001Ql-2O => bob <bob@example.test> R=localuser T=local_file
2026-11-27 14:55:44 1xWxMW-0001Ql-2O Completed
2026-11-27 14:55:47 Start queue run: pid=5509 -qff
2026-11-27 14:55:47 1xWxMU-0001Pl-1K == tmp1@remote.test R=remote T=remote_smtp defer (-44) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<tmp1@remote.test>: 451 4.3.0 sink says try later
2026-11-27 14:55:47 1xWxMW-0001QS-07 H=127.0.0.1 [127.0.0.1] Connection refused
2026-11-27 14:55:47 1xWxMW-0001QS-07 == someone@down.test R=down T=remote_smtp defer (111): Connection refused
2026-11-27 14:55:47 1xWxMW-0001Qc-10 Unfrozen by forced delivery
2026-11-27 14:55:47 1xWxMW-0001Qc-10 ** nosuch@example.test R=unknown_local: No such user here
2026-11-27 14:55:47 1xWxMW-0001Qc-10 Frozen (delivery error message)
2026-11-27 14:55:47 End queue run: pid=5509 -qff
2026-11-27 14:56:13 Start queue run: pid=5861
2026-11-27 14:56:13 1xWxMW-0001Qc-10 Message is frozen
2026-11-27 14:56:13 1xWxMU-0001Pl-1K == tmp1@remote.test routing defer (-52): retry time not reached
2026-11-27 14:56:13 1xWxMW-0001QS-07 == someone@down.test R=down T=remote_smtp defer (-54): retry time not reached for any host for 'down.test'
2026-11-27 14:56:13 End queue run: pid=5861
)exim";

// log_selector = +all -arguments (milliseconds, pids, ports, F=, P=, QT=, DT=, received_recipients...)
inline constexpr std::string_view kAllSelectorLog = R"exim(2026-11-27 14:55:41.349 [5434] exim 4.96 daemon started: pid=5434, no queue runs, listening for SMTP on [127.0.0.1]:24627
2026-11-27 14:55:49.823 [5434] SMTP connection from [127.0.0.1]:35042 I=[127.0.0.1]:24627 (TCP/IP connection count = 1)
2026-11-27 14:55:49.827 [5540] 1xWxMb-0001RM-2f <= alice@example.test H=(vm) [127.0.0.1]:35042 I=[127.0.0.1]:24627 P=esmtpa L.- A=plain:alice S=518 M8S=0 RT=0.000s id=20261127145549.005539@vm T="test one" from <alice@example.test> for bob@example.test nosuchuser@example.test someone@nowhere.test good@remote.test bad1@remote.test tmp1@remote.test list@example.test
2026-11-27 14:55:49.828 [5540] SMTP connection from (vm) [127.0.0.1]:35042 I=[127.0.0.1]:24627 closed by QUIT
2026-11-27 14:55:49.836 [5541] 1xWxMb-0001RM-2f ** someone@nowhere.test F=<alice@example.test>: Unrouteable address DT=0.000s
2026-11-27 14:55:49.837 [5541] 1xWxMb-0001RM-2f ** nosuchuser@example.test F=<alice@example.test> R=unknown_local: No such user here DT=0.000s
2026-11-27 14:55:49.839 [5541] 1xWxMb-0001RM-2f => bob <list@example.test> F=<alice@example.test> P=<alice@example.test> R=localuser T=local_file S=568 QT=0.012s DT=0.002s
2026-11-27 14:55:49.841 [5541] 1xWxMb-0001RM-2f => carol <list@example.test> F=<alice@example.test> P=<alice@example.test> R=localuser T=local_file S=568 QT=0.014s DT=0.001s
2026-11-27 14:55:49.848 [5541] 1xWxMb-0001RM-2f => good@remote.test F=<alice@example.test> P=<alice@example.test> R=remote T=remote_smtp S=533 H=127.0.0.1 [127.0.0.1]:24626 I=[127.0.0.1]:54648 L K C="250- 533 byte chunk, total 533\\n250 OK id=1xWxMb-0001RS-2j" QT=0.021s DT=0.004s
2026-11-27 14:55:49.848 [5541] 1xWxMb-0001RM-2f ** bad1@remote.test F=<alice@example.test> P=<alice@example.test> R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1]:24626 I=[127.0.0.1]:54648: SMTP error from remote mail server after RCPT TO:<bad1@remote.test>: 550 5.1.1 <bad1@remote.test>: sink says user unknown DT=0.000s
2026-11-27 14:55:49.848 [5541] 1xWxMb-0001RM-2f == tmp1@remote.test R=remote T=remote_smtp defer (-44) H=127.0.0.1 [127.0.0.1]:24626 I=[127.0.0.1]:54648 DT=0.000s: SMTP error from remote mail server after RCPT TO:<tmp1@remote.test>: 451 4.3.0 sink says try later
2026-11-27 14:55:49.860 [5548] 1xWxMb-0001RU-2l <= <> R=1xWxMb-0001RM-2f U=Debian-exim P=local S=2274 M8S=0 RT=0.000s id*=E1xWxMb-0001RU-2l@probe.test T="Mail delivery failed: returning message to sender" from <> for alice@example.test
2026-11-27 14:55:49.870 [5550] 1xWxMb-0001RU-2l => alice <alice@example.test> F=<> P=<> R=localuser T=local_file S=2319 QT=0.010s DT=0.002s
2026-11-27 14:55:49.870 [5550] 1xWxMb-0001RU-2l Completed QT=0.011s
2026-11-27 14:55:50.061 [5434] SMTP connection from [127.0.0.1]:35052 I=[127.0.0.1]:24627 (TCP/IP connection count = 1)
2026-11-27 14:55:50.062 [5554] plain authenticator failed for (vm) [127.0.0.1]:35052 I=[127.0.0.1]:24627: 535 Incorrect authentication data (set_id=alice)
2026-11-27 14:55:50.062 [5554] SMTP connection from (vm) [127.0.0.1]:35052 I=[127.0.0.1]:24627 closed by QUIT
2026-11-27 14:55:50.263 [5554] no MAIL in SMTP connection from (vm) [127.0.0.1]:35052 I=[127.0.0.1]:24627 D=0.201s C=EHLO,AUTH,QUIT
2026-11-27 14:55:50.294 [5434] SMTP connection from [127.0.0.1]:35066 I=[127.0.0.1]:24627 (TCP/IP connection count = 1)
2026-11-27 14:55:50.297 [5556] 1xWxMc-0001Rc-0x <= bob@example.test H=(vm) [127.0.0.1]:35066 I=[127.0.0.1]:24627 P=esmtpa L.- A=login:bob S=464 M8S=0 RT=0.000s id=20261127145550.005555@vm T="test Fri, 27 Nov 2026 14:55:50 +0000" from <bob@example.test> for good2@remote.test good3@remote.test bad2@remote.test
2026-11-27 14:55:50.298 [5556] SMTP connection from (vm) [127.0.0.1]:35066 I=[127.0.0.1]:24627 closed by QUIT
2026-11-27 14:55:50.313 [5557] 1xWxMc-0001Rc-0x => good2@remote.test F=<bob@example.test> P=<bob@example.test> R=remote T=remote_smtp S=479 H=127.0.0.1 [127.0.0.1]:24626 I=[127.0.0.1]:54662 L K C="250- 479 byte chunk, total 479\\n250 OK id=1xWxMc-0001Rf-0z" QT=0.016s DT=0.004s
2026-11-27 14:55:50.314 [5557] 1xWxMc-0001Rc-0x -> good3@remote.test F=<bob@example.test> P=<bob@example.test> R=remote T=remote_smtp S=479 H=127.0.0.1 [127.0.0.1]:24626 I=[127.0.0.1]:54662 L K C="250- 479 byte chunk, total 479\\n250 OK id=1xWxMc-0001Rf-0z" QT=0.017s DT=0.004s
2026-11-27 14:55:50.314 [5557] 1xWxMc-0001Rc-0x ** bad2@remote.test F=<bob@example.test> P=<bob@example.test> R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1]:24626 I=[127.0.0.1]:54662: SMTP error from remote mail server after RCPT TO:<bad2@remote.test>: 550 5.1.1 <bad2@remote.test>: sink says user unknown DT=0.000s
2026-11-27 14:55:50.323 [5562] 1xWxMc-0001Ri-12 <= <> R=1xWxMc-0001Rc-0x U=Debian-exim P=local S=1920 M8S=0 RT=0.000s id*=E1xWxMc-0001Ri-12@probe.test T="Mail delivery failed: returning message to sender" from <> for bob@example.test
2026-11-27 14:55:50.325 [5557] 1xWxMc-0001Rc-0x Completed QT=0.028s
2026-11-27 14:55:50.332 [5564] 1xWxMc-0001Ri-12 => bob <bob@example.test> F=<> P=<> R=localuser T=local_file S=1965 QT=0.009s DT=0.002s
2026-11-27 14:55:50.333 [5564] 1xWxMc-0001Ri-12 Completed QT=0.011s
2026-11-27 14:55:50.548 [5434] SMTP connection from [127.0.0.1]:35072 I=[127.0.0.1]:24627 (TCP/IP connection count = 1)
2026-11-27 14:55:50.550 [5586] login authenticator failed for (vm) [127.0.0.1]:35072 I=[127.0.0.1]:24627: 535 Incorrect authentication data (set_id=bob)
2026-11-27 14:55:50.550 [5586] SMTP connection from (vm) [127.0.0.1]:35072 I=[127.0.0.1]:24627 closed by QUIT
2026-11-27 14:55:50.750 [5586] no MAIL in SMTP connection from (vm) [127.0.0.1]:35072 I=[127.0.0.1]:24627 D=0.201s C=EHLO,AUTH,QUIT
2026-11-27 14:55:50.782 [5434] SMTP connection from [127.0.0.1]:35086 I=[127.0.0.1]:24627 (TCP/IP connection count = 1)
2026-11-27 14:55:50.784 [5588] H=(vm) [127.0.0.1]:35086 I=[127.0.0.1]:24627 F=<alice@example.test> A=plain:alice rejected RCPT <reject-me@remote.test>: 550 5.7.1 refused by policy test
2026-11-27 14:55:50.784 [5588] H=(vm) [127.0.0.1]:35086 I=[127.0.0.1]:24627 F=<alice@example.test> A=plain:alice temporarily rejected RCPT <defer-me@remote.test>: 451 4.7.1 deferred by policy test
2026-11-27 14:55:50.785 [5588] 1xWxMc-0001S8-2W <= alice@example.test H=(vm) [127.0.0.1]:35086 I=[127.0.0.1]:24627 P=esmtpa L.- A=plain:alice S=499 M8S=0 RT=0.000s id=20261127145550.005587@vm T="test Fri, 27 Nov 2026 14:55:50 +0000" from <alice@example.test> for good4@remote.test
2026-11-27 14:55:50.786 [5588] SMTP connection from (vm) [127.0.0.1]:35086 I=[127.0.0.1]:24627 closed by QUIT
2026-11-27 14:55:50.805 [5589] 1xWxMc-0001S8-2W => good4@remote.test F=<alice@example.test> P=<alice@example.test> R=remote T=remote_smtp S=515 H=127.0.0.1 [127.0.0.1]:24626 I=[127.0.0.1]:54666 L K C="250- 515 byte chunk, total 515\\n250 OK id=1xWxMc-0001SB-2Z" QT=0.020s DT=0.003s
2026-11-27 14:55:50.806 [5589] 1xWxMc-0001S8-2W Completed QT=0.021s
2026-11-27 14:55:51.019 [5434] SMTP connection from [127.0.0.1]:35088 I=[127.0.0.1]:24627 (TCP/IP connection count = 1)
2026-11-27 14:55:51.025 [5596] 1xWxMd-0001SG-04 >> ct1@remote.test F=<alice@example.test> R=remote T=remote_smtp S=477 H=127.0.0.1 [127.0.0.1]:24626 I=[127.0.0.1]:54680 C="250 OK id=1xWxMd-0001SH-04" QT=0.002s DT=0.000s
2026-11-27 14:55:51.226 [5596] 1xWxMd-0001SG-04 <= alice@example.test H=(vm) [127.0.0.1]:35088 I=[127.0.0.1]:24627 P=esmtpa L.- A=plain:alice S=452 M8S=0 RT=0.000s id=20261127145551.005595@vm T="test Fri, 27 Nov 2026 14:55:51 +0000" from <alice@example.test> for ct1@remote.test
2026-11-27 14:55:51.226 [5596] 1xWxMd-0001SG-04 Completed
2026-11-27 14:55:51.226 [5596] SMTP connection from (vm) [127.0.0.1]:35088 I=[127.0.0.1]:24627 closed by QUIT
2026-11-27 14:55:51.461 [5434] SMTP connection from [127.0.0.1]:35104 I=[127.0.0.1]:24627 (TCP/IP connection count = 1)
2026-11-27 14:55:51.464 [5617] 1xWxMd-0001Sb-1U <= alice@example.test H=(vm) [127.0.0.1]:35104 I=[127.0.0.1]:24627 P=esmtpa L.- A=plain:alice S=456 M8S=0 RT=0.000s id=20261127145551.005616@vm T="test Fri, 27 Nov 2026 14:55:51 +0000" from <alice@example.test> for someone@down.test
2026-11-27 14:55:51.465 [5617] SMTP connection from (vm) [127.0.0.1]:35104 I=[127.0.0.1]:24627 closed by QUIT
2026-11-27 14:55:51.474 [5619] 1xWxMd-0001Sb-1U H=127.0.0.1 [127.0.0.1]:24699 Connection refused
2026-11-27 14:55:51.475 [5618] 1xWxMd-0001Sb-1U == someone@down.test R=down T=remote_smtp defer (111): Connection refused DT=0.000s
2026-11-27 14:55:51.697 [5434] SMTP connection from [127.0.0.1]:35110 I=[127.0.0.1]:24627 (TCP/IP connection count = 1)
2026-11-27 14:55:51.700 [5622] 1xWxMd-0001Sg-2F <= nosuch@example.test H=(vm) [127.0.0.1]:35110 I=[127.0.0.1]:24627 P=esmtpa L.- A=plain:alice S=456 M8S=0 RT=0.000s id=20261127145551.005621@vm T="test Fri, 27 Nov 2026 14:55:51 +0000" from <nosuch@example.test> for bad3@remote.test
2026-11-27 14:55:51.701 [5622] SMTP connection from (vm) [127.0.0.1]:35110 I=[127.0.0.1]:24627 closed by QUIT
2026-11-27 14:55:51.713 [5623] 1xWxMd-0001Sg-2F ** bad3@remote.test F=<nosuch@example.test> P=<nosuch@example.test> R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1]:24626 I=[127.0.0.1]:54686: SMTP error from remote mail server after RCPT TO:<bad3@remote.test>: 550 5.1.1 <bad3@remote.test>: sink says user unknown DT=0.000s
2026-11-27 14:55:51.721 [5627] 1xWxMd-0001Sl-2K <= <> R=1xWxMd-0001Sg-2F U=Debian-exim P=local S=1916 M8S=0 RT=0.000s id*=E1xWxMd-0001Sl-2K@probe.test T="Mail delivery failed: returning message to sender" from <> for nosuch@example.test
2026-11-27 14:55:51.725 [5623] 1xWxMd-0001Sg-2F Completed QT=0.026s
2026-11-27 14:55:51.729 [5628] 1xWxMd-0001Sl-2K ** nosuch@example.test F=<> R=unknown_local: No such user here DT=0.000s
2026-11-27 14:55:51.729 [5628] 1xWxMd-0001Sl-2K Frozen (delivery error message)
2026-11-27 14:55:51.932 [5434] SMTP connection from [127.0.0.1]:35112 I=[127.0.0.1]:24627 (TCP/IP connection count = 1)
2026-11-27 14:55:51.935 [5631] 1xWxMd-0001Sp-30 <= carol@remote.test H=(vm) [127.0.0.1]:35112 I=[127.0.0.1]:24627 P=esmtp L.- S=451 M8S=0 RT=0.000s id=20261127145551.005630@vm T="test Fri, 27 Nov 2026 14:55:51 +0000" from <carol@remote.test> for bob@example.test
2026-11-27 14:55:51.935 [5631] SMTP connection from (vm) [127.0.0.1]:35112 I=[127.0.0.1]:24627 closed by QUIT
2026-11-27 14:55:51.946 [5632] 1xWxMd-0001Sp-30 => bob <bob@example.test> F=<carol@remote.test> P=<carol@remote.test> R=localuser T=local_file S=500 QT=0.011s DT=0.002s
2026-11-27 14:55:51.947 [5632] 1xWxMd-0001Sp-30 Completed QT=0.013s
2026-11-27 14:55:52.151 [5636] 1xWxMe-0001Su-0U <= root@example.test U=root P=local S=305 M8S=0 RT=0.000s id*=E1xWxMe-0001Su-0U@probe.test T="local" from <root@example.test> for bob@example.test
2026-11-27 14:55:52.160 [5638] 1xWxMe-0001Su-0U => bob <bob@example.test> F=<root@example.test> P=<root@example.test> R=localuser T=local_file S=354 QT=0.009s DT=0.001s
2026-11-27 14:55:52.161 [5638] 1xWxMe-0001Su-0U Completed QT=0.010s
2026-11-27 14:55:55.176 [5642] Start queue run: pid=5642 -qff
2026-11-27 14:55:55.184 [5645] 1xWxMd-0001Sl-2K Unfrozen by forced delivery
2026-11-27 14:55:55.184 [5645] 1xWxMd-0001Sl-2K ** nosuch@example.test F=<> R=unknown_local: No such user here DT=0.000s
2026-11-27 14:55:55.184 [5645] 1xWxMd-0001Sl-2K Frozen (delivery error message)
2026-11-27 14:55:55.189 [5647] 1xWxMd-0001Sb-1U H=127.0.0.1 [127.0.0.1]:24699 Connection refused
2026-11-27 14:55:55.190 [5646] 1xWxMd-0001Sb-1U == someone@down.test R=down T=remote_smtp defer (111): Connection refused DT=0.000s
2026-11-27 14:55:55.197 [5648] 1xWxMb-0001RM-2f == tmp1@remote.test R=remote T=remote_smtp defer (-44) H=127.0.0.1 [127.0.0.1]:24626 I=[127.0.0.1]:54692 DT=0.000s: SMTP error from remote mail server after RCPT TO:<tmp1@remote.test>: 451 4.3.0 sink says try later
2026-11-27 14:55:55.198 [5642] End queue run: pid=5642 -qff
)exim";

// log_selector = +pid +millisec +received_recipients, log_timezone = true
inline constexpr std::string_view kPidMillisecRecipientsLog = R"exim(2026-11-27 14:55:41.366 +0000 [5436] exim 4.96 daemon started: pid=5436, no queue runs, listening for SMTP on [127.0.0.1]:24628
2026-11-27 14:55:57.236 +0000 [5654] 1xWxMj-0001TC-0l <= alice@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=507 id=20261127155557.005653@vm for bob@example.test nosuchuser@example.test someone@nowhere.test good@remote.test bad1@remote.test tmp1@remote.test list@example.test
2026-11-27 14:55:57.245 +0000 [5655] 1xWxMj-0001TC-0l ** someone@nowhere.test: Unrouteable address
2026-11-27 14:55:57.246 +0000 [5655] 1xWxMj-0001TC-0l ** nosuchuser@example.test R=unknown_local: No such user here
2026-11-27 14:55:57.248 +0000 [5655] 1xWxMj-0001TC-0l => bob <list@example.test> R=localuser T=local_file
2026-11-27 14:55:57.250 +0000 [5655] 1xWxMj-0001TC-0l => carol <list@example.test> R=localuser T=local_file
2026-11-27 14:55:57.257 +0000 [5655] 1xWxMj-0001TC-0l => good@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] K C="250- 522 byte chunk, total 522\\n250 OK id=1xWxMj-0001TI-0o"
2026-11-27 14:55:57.257 +0000 [5655] 1xWxMj-0001TC-0l ** bad1@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<bad1@remote.test>: 550 5.1.1 <bad1@remote.test>: sink says user unknown
2026-11-27 14:55:57.257 +0000 [5655] 1xWxMj-0001TC-0l == tmp1@remote.test R=remote T=remote_smtp defer (-44) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<tmp1@remote.test>: 451 4.3.0 sink says try later
2026-11-27 14:55:57.267 +0000 [5662] 1xWxMj-0001TK-0r <= <> R=1xWxMj-0001TC-0l U=Debian-exim P=local S=2258 for alice@example.test
2026-11-27 14:55:57.277 +0000 [5664] 1xWxMj-0001TK-0r => alice <alice@example.test> R=localuser T=local_file
2026-11-27 14:55:57.278 +0000 [5664] 1xWxMj-0001TK-0r Completed
2026-11-27 14:55:57.473 +0000 [5668] plain authenticator failed for (vm) [127.0.0.1]: 535 Incorrect authentication data (set_id=alice)
2026-11-27 14:55:57.711 +0000 [5670] 1xWxMj-0001TS-2I <= bob@example.test H=(vm) [127.0.0.1] P=esmtpa A=login:bob S=453 id=20261127155557.005669@vm for good2@remote.test good3@remote.test bad2@remote.test
2026-11-27 14:55:57.727 +0000 [5671] 1xWxMj-0001TS-2I => good2@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] K C="250- 468 byte chunk, total 468\\n250 OK id=1xWxMj-0001TV-2K"
2026-11-27 14:55:57.727 +0000 [5671] 1xWxMj-0001TS-2I -> good3@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] K C="250- 468 byte chunk, total 468\\n250 OK id=1xWxMj-0001TV-2K"
2026-11-27 14:55:57.727 +0000 [5671] 1xWxMj-0001TS-2I ** bad2@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<bad2@remote.test>: 550 5.1.1 <bad2@remote.test>: sink says user unknown
2026-11-27 14:55:57.738 +0000 [5676] 1xWxMj-0001TY-2N <= <> R=1xWxMj-0001TS-2I U=Debian-exim P=local S=1904 for bob@example.test
2026-11-27 14:55:57.739 +0000 [5671] 1xWxMj-0001TS-2I Completed
2026-11-27 14:55:57.748 +0000 [5678] 1xWxMj-0001TY-2N => bob <bob@example.test> R=localuser T=local_file
2026-11-27 14:55:57.749 +0000 [5678] 1xWxMj-0001TY-2N Completed
2026-11-27 14:55:57.945 +0000 [5682] login authenticator failed for (vm) [127.0.0.1]: 535 Incorrect authentication data (set_id=bob)
2026-11-27 14:55:58.178 +0000 [5684] H=(vm) [127.0.0.1] F=<alice@example.test> A=plain:alice rejected RCPT <reject-me@remote.test>: 550 5.7.1 refused by policy test
2026-11-27 14:55:58.178 +0000 [5684] H=(vm) [127.0.0.1] F=<alice@example.test> A=plain:alice temporarily rejected RCPT <defer-me@remote.test>: 451 4.7.1 deferred by policy test
2026-11-27 14:55:58.179 +0000 [5684] 1xWxMk-0001Tg-0Z <= alice@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=488 id=20261127155558.005683@vm for good4@remote.test
2026-11-27 14:55:58.194 +0000 [5685] 1xWxMk-0001Tg-0Z => good4@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] K C="250- 504 byte chunk, total 504\\n250 OK id=1xWxMk-0001Tj-0c"
2026-11-27 14:55:58.195 +0000 [5685] 1xWxMk-0001Tg-0Z Completed
2026-11-27 14:55:58.420 +0000 [5692] 1xWxMk-0001To-1L >> ct1@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] C="250 OK id=1xWxMk-0001Tp-1L"
2026-11-27 14:55:58.621 +0000 [5692] 1xWxMk-0001To-1L <= alice@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=441 id=20261127155558.005691@vm for ct1@remote.test
2026-11-27 14:55:58.621 +0000 [5692] 1xWxMk-0001To-1L Completed
2026-11-27 14:55:58.856 +0000 [5697] 1xWxMk-0001Tt-2l <= alice@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=445 id=20261127155558.005696@vm for someone@down.test
2026-11-27 14:55:58.866 +0000 [5699] 1xWxMk-0001Tt-2l H=127.0.0.1 [127.0.0.1] Connection refused
2026-11-27 14:55:58.867 +0000 [5698] 1xWxMk-0001Tt-2l == someone@down.test R=down T=remote_smtp defer (111): Connection refused
2026-11-27 14:55:59.092 +0000 [5702] 1xWxMl-0001Ty-0I <= nosuch@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=445 id=20261127155559.005701@vm for bad3@remote.test
2026-11-27 14:55:59.105 +0000 [5703] 1xWxMl-0001Ty-0I ** bad3@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<bad3@remote.test>: 550 5.1.1 <bad3@remote.test>: sink says user unknown
2026-11-27 14:55:59.114 +0000 [5707] 1xWxMl-0001U3-0M <= <> R=1xWxMl-0001Ty-0I U=Debian-exim P=local S=1905 for nosuch@example.test
2026-11-27 14:55:59.117 +0000 [5703] 1xWxMl-0001Ty-0I Completed
2026-11-27 14:55:59.121 +0000 [5708] 1xWxMl-0001U3-0M ** nosuch@example.test R=unknown_local: No such user here
2026-11-27 14:55:59.122 +0000 [5708] 1xWxMl-0001U3-0M Frozen (delivery error message)
2026-11-27 14:55:59.327 +0000 [5711] 1xWxMl-0001U7-13 <= carol@remote.test H=(vm) [127.0.0.1] P=esmtp S=440 id=20261127155559.005710@vm for bob@example.test
2026-11-27 14:55:59.337 +0000 [5712] 1xWxMl-0001U7-13 => bob <bob@example.test> R=localuser T=local_file
2026-11-27 14:55:59.338 +0000 [5712] 1xWxMl-0001U7-13 Completed
2026-11-27 14:55:59.542 +0000 [5716] 1xWxMl-0001UC-1k <= root@example.test U=root P=local S=305 for bob@example.test
2026-11-27 14:55:59.551 +0000 [5718] 1xWxMl-0001UC-1k => bob <bob@example.test> R=localuser T=local_file
2026-11-27 14:55:59.552 +0000 [5718] 1xWxMl-0001UC-1k Completed
2026-11-27 14:56:02.566 +0000 [5755] Start queue run: pid=5755 -qff
2026-11-27 14:56:02.573 +0000 [5758] 1xWxMl-0001U3-0M Unfrozen by forced delivery
2026-11-27 14:56:02.574 +0000 [5758] 1xWxMl-0001U3-0M ** nosuch@example.test R=unknown_local: No such user here
2026-11-27 14:56:02.574 +0000 [5758] 1xWxMl-0001U3-0M Frozen (delivery error message)
2026-11-27 14:56:02.580 +0000 [5759] 1xWxMj-0001TC-0l == tmp1@remote.test R=remote T=remote_smtp defer (-44) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<tmp1@remote.test>: 451 4.3.0 sink says try later
2026-11-27 14:56:02.583 +0000 [5763] 1xWxMk-0001Tt-2l H=127.0.0.1 [127.0.0.1] Connection refused
2026-11-27 14:56:02.585 +0000 [5762] 1xWxMk-0001Tt-2l == someone@down.test R=down T=remote_smtp defer (111): Connection refused
2026-11-27 14:56:02.585 +0000 [5755] End queue run: pid=5755 -qff
)exim";

// log_selector = +millisec, log_timezone = true, timezone = Europe/Berlin
inline constexpr std::string_view kBerlinLog = R"exim(2026-11-27 15:56:10.541 +0100 exim 4.96 daemon started: pid=5819, no queue runs, listening for SMTP on [127.0.0.1]:24629
2026-11-27 15:56:11.578 +0100 1xWxMx-0001Vu-1r <= alice@example.test H=(vm) [127.0.0.1] P=esmtpa A=plain:alice S=456 id=20261127145611.005821@vm
2026-11-27 15:56:11.587 +0100 1xWxMx-0001Vu-1r H=127.0.0.1 [127.0.0.1] Connection refused
2026-11-27 15:56:11.590 +0100 1xWxMx-0001Vu-1r == someone@down.test R=down T=remote_smtp defer (111): Connection refused
2026-11-27 15:56:11.593 +0100 1xWxMx-0001Vu-1r ** bad9@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<bad9@remote.test>: 550 5.1.1 <bad9@remote.test>: sink says user unknown
2026-11-27 15:56:11.593 +0100 1xWxMx-0001Vu-1r => good@remote.test R=remote T=remote_smtp H=127.0.0.1 [127.0.0.1] K C="250- 471 byte chunk, total 471\\n250 OK id=1xWxMx-0001Vy-1t"
2026-11-27 15:56:11.601 +0100 1xWxMx-0001W1-1w <= <> R=1xWxMx-0001Vu-1r U=Debian-exim P=local S=1918
2026-11-27 15:56:11.610 +0100 1xWxMx-0001W1-1w => alice <alice@example.test> R=localuser T=local_file
2026-11-27 15:56:11.611 +0100 1xWxMx-0001W1-1w Completed
2026-11-27 15:56:13.793 +0100 Start queue run: pid=5856
2026-11-27 15:56:13.803 +0100 1xWxMx-0001Vu-1r == someone@down.test R=down T=remote_smtp defer (-54): retry time not reached for any host for 'down.test'
2026-11-27 15:56:13.803 +0100 End queue run: pid=5856
)exim";

}  // namespace senderwatch::testing

// How: mkconf.sh NAME PORT SELECTOR writes an Exim configuration (manualroute
// of remote.test to a sink Exim on 127.0.0.1:24626 answering 550 for "bad*"
// and 451 for "tmp*"; localuser/listalias/unknown_local routers; an ACL that
// rejects "reject-me", defers "defer-me" and cutthroughs "ct*"; plaintext
// PLAIN/LOGIN authenticators), daemons run with -C from a private mount
// namespace whose /etc/exim4/trusted_configs lists the files, and swaks sends
// the traffic. See docs/replay.md.

#endif  // SENDERWATCH_TESTS_UNIT_EXIMLOG_SAMPLES_H_
